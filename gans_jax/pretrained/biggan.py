"""BigGAN-PyTorch checkpoints (Brock et al.'s ``ajbrock/BigGAN-PyTorch``) as converted networks.

Kind ``biggan-pytorch``. Reads what the reference's ``utils.save_weights`` writes: a run folder with
``G.pth``, ``G_ema.pth``, ``D.pth`` and optionally ``state_dict.pth`` (``G_optim.pth``/``D_optim.pth`` are
not read: fine-tuning starts fresh optimisers), or one of those network files alone. A folder holding
several saves (``G.pth`` and ``G_best0.pth``, ``G_copy1.pth``...) gives the unsuffixed one, or the only
suffix there is. The files are ``torch.save`` state dicts (the 2019 legacy format of the released
checkpoints, or the zip format), read as data by :func:`gans_jax.torch_files.read_torch_file`.

The architecture is not stored in a state dict; it is read from tensor names and shapes:
resolution from the number of blocks (G: ``4 * 2**blocks``; D: ``D_arch``'s block counts), ``G_ch`` and
``D_ch`` from the first block's convolution, self-attention from the blocks that have a second module
(``blocks.N.1.theta``), the shared embedding (``G_shared``, ``shared_dim``) and the number of classes from
``shared.weight`` (else the per-layer class embeddings, else D's ``embed.weight``), hierarchical latents
(``hier``) and ``dim_z`` from the ``ccbn`` input width against ``linear``'s, the batch-norm variant from the
buffer names (``stored_mean``/``stored_var`` of the plain ``ccbn``/``bn``; ``bn.stored_*`` of ``--mybn``'s
``myBN``; ``bn.running_*`` of ``--cross_replica``'s ``SyncBN2d``). Settings no tensor shows come from
``state_dict.pth``'s ``config`` when the folder has one (``BN_eps``, ``SN_eps``, ``num_G_SV_itrs``,
``num_D_SV_itrs``, ``G_init``, learning rates and betas, ``num_D_steps``, ``ema_decay``), else from the
launch scripts of the released ImageNet model (``launch_BigGAN_bs256x8.sh``: ``BN_eps 1e-5``, ``SN_eps
1e-6``, one power iteration, Adam 1e-4 / 4e-4 with betas (0, 0.999), one D step, EMA decay 0.9999).
:func:`convert` takes ``overrides`` (dotted config keys) for anything else; on the command line, edit
the written workdir's ``config.json``.

What maps where (:mod:`gans_jax.layers.biggan_pytorch` keeps the reference's names): ``a.N.b.weight``
becomes ``params/a_N/b/kernel`` (convolutions transposed to HWIO, linear weights transposed) or
``.../embedding`` (``shared``, ``embed``, non-shared ``ccbn`` tables); biases, ``gain`` and ``gamma`` keep
their names; ``u0``/``sv0`` go to ``batch_stats``; ``stored_mean``/``running_mean`` become
``batch_stats/.../bn/mean`` (likewise ``var``). Left out, as no output depends on them: ``u1, sv1, ...``
(further singular vectors of ``num_G_SVs > 1``, logged only), ``accumulation_counter`` (myBN's
standing-statistics counter, unused once a state dict is reloaded) and ``num_batches_tracked``.

The reference keeps separate buffers in its EMA copy of G (``utils.ema`` averages the whole state dict).
A :class:`~gans_jax.training.state.GANState` has one set of generator collections, shared by G and its
EMA: they are ``G_ema.pth``'s when there is one (sampling uses the EMA generator), else ``G.pth``'s.
Not supported: BigGAN-deep (``BigGANdeep.py``), ``D_wide=False``, ``G_param``/``D_param`` other than
``'SN'``, ``norm_style`` other than ``'bn'``.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from gans_jax.pretrained import ConversionError, Converted
from gans_jax.torch_files import RestrictedUnpickler, read_torch_file

KIND = "biggan-pytorch"
ROLES = ("G_ema", "G_optim", "D_optim", "state_dict", "G", "D")  # utils.save_weights's file stems
NETWORKS = ("G", "G_ema", "D")
_TORCH_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
_READ_ERRORS = (ValueError, EOFError, OSError, KeyError, IndexError, struct.error, pickle.UnpicklingError)

# launch_BigGAN_bs256x8.sh (the released ImageNet 128x128 model) where utils.py's defaults differ
LAUNCH_SETTINGS: dict[str, Any] = {
    "BN_eps": 1e-5,
    "SN_eps": 1e-6,
    "num_G_SV_itrs": 1,
    "num_D_SV_itrs": 1,
    "G_init": "ortho",
    "G_lr": 1e-4,
    "D_lr": 4e-4,
    "G_B1": 0.0,
    "G_B2": 0.999,
    "D_B1": 0.0,
    "D_B2": 0.999,
    "num_D_steps": 1,
    "ema_decay": 0.9999,
}


def _role(filename: str) -> tuple[str, str] | None:
    """``(role, suffix)`` of a file ``utils.save_weights`` writes: ``G_ema_best0.pth`` -> ``("G_ema",
    "best0")``; ``None`` for other names."""
    stem, ext = os.path.splitext(filename)
    if ext != ".pth":
        return None
    for role in ROLES:  # G_ema and G_optim before G: the first match is the role
        if stem == role or stem.startswith(role + "_"):
            return role, stem[len(role) + 1 :]
    return None


def _read(path: str) -> dict[str, Any]:
    try:
        return read_torch_file(path)
    except (*_READ_ERRORS, zipfile.BadZipFile) as e:
        raise ConversionError(
            f"{path}: cannot read it as a torch file ({type(e).__name__}: {e}); it is truncated, or not "
            "a file torch.save wrote"
        ) from e


def _network_kind(state: Mapping[str, Any]) -> str | None:
    """``"G"`` or ``"D"`` for a BigGAN-PyTorch state dict, else ``None``."""
    if "linear.weight" not in state or "blocks.0.0.conv1.weight" not in state:
        return None
    if "output_layer.2.weight" in state:
        return "G"
    if "embed.weight" in state:
        return "D"
    return None


def detect(path: str) -> str | None:
    """``biggan-pytorch`` for a folder with ``G.pth``/``G_ema.pth``/``D.pth`` (or suffixed saves), a file
    named so, or another torch file holding a BigGAN-PyTorch G or D state dict."""
    if os.path.isdir(path):
        roles = [_role(f) for f in os.listdir(path)]
        return KIND if any(r and r[0] in NETWORKS for r in roles) else None
    role = _role(os.path.basename(path))
    if role is not None:
        return KIND if role[0] in NETWORKS else None
    if not path.endswith(_TORCH_SUFFIXES):
        return None
    try:
        state = read_torch_file(path)
    except (*_READ_ERRORS, zipfile.BadZipFile):
        return None  # not a torch file: not ours to convert
    return KIND if _network_kind(state) else None


def _files(path: str) -> dict[str, str]:
    """role -> file of the save to convert (see the module doc)."""
    if not os.path.isdir(path):
        return {"file": path}
    saves: dict[str, dict[str, str]] = {}
    for name in sorted(os.listdir(path)):
        role = _role(name)
        if role is not None:
            saves.setdefault(role[1], {})[role[0]] = os.path.join(path, name)
    saves = {s: files for s, files in saves.items() if any(r in files for r in NETWORKS)}
    if not saves:
        raise ConversionError(
            f"{path}: no BigGAN-PyTorch network files; expected G.pth, G_ema.pth and/or D.pth (as "
            f"utils.save_weights names them), found {sorted(os.listdir(path))[:10]}"
        )
    if "" in saves:
        return saves[""]
    if len(saves) > 1:
        raise ConversionError(
            f"{path} holds several saves (suffixes {sorted(saves)}) and no unsuffixed G.pth/D.pth: convert "
            "one network file, or a folder with one save"
        )
    return next(iter(saves.values()))


class _Inert:
    """An object of a class that is not loaded: the reference's ``state_dict.pth`` keeps its whole
    ``config``, activation modules (``nn.ReLU``) included. Records what it is given, runs nothing."""

    inert_class = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass

    def __repr__(self) -> str:
        return f"<{self.inert_class}>"


class _ConfigUnpickler(RestrictedUnpickler):
    """:class:`RestrictedUnpickler` that turns any other global into an inert :class:`_Inert` subclass
    (nothing is imported or called) and torch's ``('module', cls, file, source)`` persistent ids of
    pickled modules into that class."""

    def find_class(self, module: str, name: str):
        try:
            return super().find_class(module, name)
        except pickle.UnpicklingError:
            return type("Inert", (_Inert,), {"inert_class": f"{module}.{name}"})

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and pid and pid[0] == "module":
            return pid[1]
        return super().persistent_load(pid)


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization's MAGIC_NUMBER


def read_run_config(path: str) -> dict[str, Any]:
    """The plain values (str, int, float, bool, None) of ``state_dict.pth``'s ``config``: the run's flags."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
                if len(pickles) != 1:
                    raise ValueError(f"expected one <name>/data.pkl, found {pickles}")
                no_tensors = lambda key, dtype, numel: np.zeros(numel, dtype)  # tensors are not needed
                obj = _ConfigUnpickler(io.BytesIO(archive.read(pickles[0])), {}, no_tensors).load()
        else:
            with open(path, "rb") as f:
                storages: dict = {}
                if _ConfigUnpickler(f, storages).load() != _LEGACY_MAGIC:
                    raise ValueError("neither a zip archive nor a legacy torch file")
                _ConfigUnpickler(f, storages).load()  # protocol version
                _ConfigUnpickler(f, storages).load()  # sys info
                obj = _ConfigUnpickler(f, storages).load()
    except (*_READ_ERRORS, zipfile.BadZipFile) as e:
        raise ConversionError(
            f"{path}: cannot read it as BigGAN-PyTorch's state_dict.pth ({type(e).__name__}: {e}); it is "
            "truncated or of another kind (move it away to convert the networks with default settings)"
        ) from e
    config = obj.get("config") if isinstance(obj, dict) else None
    if not isinstance(config, dict):
        found = sorted(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
        raise ConversionError(
            f"{path}: expected BigGAN-PyTorch's state_dict.pth, a dict with the run's 'config'; found {found}"
        )
    return {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool, type(None)))}


def _block_indices(state: Mapping[str, Any], path: str) -> list[int]:
    blocks = sorted(
        int(m.group(1)) for k in state if (m := re.fullmatch(r"blocks\.(\d+)\.0\.conv1\.weight", k))
    )
    if blocks != list(range(len(blocks))) or not blocks:
        raise ConversionError(f"{path}: blocks {blocks} are not numbered 0, 1, ... as in BigGAN-PyTorch")
    return blocks


def _check_common(state: Mapping[str, Any], path: str, network: str) -> None:
    if any(re.search(r"\.conv[34]\.weight$", k) for k in state):
        raise ConversionError(f"{path}: a BigGAN-deep {network} (BigGANdeep.py: conv3/conv4); not supported")
    if "linear.u0" not in state:
        raise ConversionError(
            f"{path}: no spectral-norm buffers (linear.u0): {network}_param other than 'SN' is not supported"
        )


def infer_generator(state: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The generator's architecture from a G state dict (see the module doc)."""
    from gans_jax.models.biggan import G_ARCH

    _check_common(state, path, "G")
    blocks = _block_indices(state, path)
    resolution = 4 * 2 ** len(blocks)
    if resolution not in G_ARCH:
        raise ConversionError(
            f"{path}: {len(blocks)} generator blocks make {resolution}x{resolution} images; BigGAN "
            f"generators have {sorted(len(a[0]) for a in G_ARCH.values())} blocks"
        )
    in_mult, out_mult = G_ARCH[resolution]
    first = state["blocks.0.0.conv1.weight"].shape
    ch, rest = divmod(first[0], out_mult[0])
    if rest or ch < 1:
        raise ConversionError(f"{path}: blocks.0.0.conv1.weight {first} is not {out_mult[0]} x G_ch channels")
    for i in blocks:
        want = (out_mult[i] * ch, in_mult[i] * ch, 3, 3)
        got = state[f"blocks.{i}.0.conv1.weight"].shape
        if tuple(got) != want:
            raise ConversionError(
                f"{path}: blocks.{i}.0.conv1.weight has shape {tuple(got)}, G_arch[{resolution}] with "
                f"G_ch={ch} has {want}"
            )
    shared = "shared.weight" in state
    linear_in = state["linear.weight"].shape[1]
    gain = state.get("blocks.0.0.bn1.gain.weight")
    if gain is None or gain.ndim != 2:
        raise ConversionError(f"{path}: no ccbn gain blocks.0.0.bn1.gain.weight (norm_style 'bn' expected)")
    if shared:
        num_classes, shared_dim = state["shared.weight"].shape
        chunk = gain.shape[1] - shared_dim
        hierarchical = chunk > 0
        if hierarchical and chunk != linear_in:
            raise ConversionError(
                f"{path}: ccbn inputs ({gain.shape[1]}) = shared_dim {shared_dim} + a z chunk of {chunk}, "
                f"but linear takes {linear_in}"
            )
        latent_dim = linear_in * (len(blocks) + 1) if hierarchical else linear_in
    else:
        num_classes, shared_dim, hierarchical, latent_dim = gain.shape[0], 0, False, linear_in
    if "blocks.0.0.bn1.stored_mean" in state:
        bn = "bn"
    elif "blocks.0.0.bn1.bn.stored_mean" in state:
        bn = "mybn"
    elif "blocks.0.0.bn1.bn.running_mean" in state:
        bn = "cross_replica"
    else:
        raise ConversionError(
            f"{path}: no batch-norm statistics for blocks.0.0.bn1 (stored_mean, bn.stored_mean or "
            "bn.running_mean): norm_style other than 'bn' is not supported"
        )
    attention = [8 * 2**i for i in blocks if f"blocks.{i}.1.theta.weight" in state]
    return dict(
        resolution=resolution,
        ch=ch,
        num_classes=int(num_classes),
        latent_dim=int(latent_dim),
        shared_dim=int(shared_dim),
        hierarchical=hierarchical,
        attention="_".join(map(str, attention)) or "0",
        out_channels=int(state["output_layer.2.weight"].shape[0]),
        bn=bn,
    )


def infer_discriminator(state: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The discriminator's architecture from a D state dict (see the module doc)."""
    from gans_jax.models.biggan import D_ARCH

    _check_common(state, path, "D")
    blocks = _block_indices(state, path)
    by_blocks = {len(arch[0]): res for res, arch in D_ARCH.items()}
    if len(blocks) not in by_blocks:
        raise ConversionError(
            f"{path}: {len(blocks)} discriminator blocks; BigGAN discriminators have {sorted(by_blocks)}"
        )
    resolution = by_blocks[len(blocks)]
    out_mult, _, listed = D_ARCH[resolution]
    first = state["blocks.0.0.conv1.weight"].shape
    ch, rest = divmod(first[0], out_mult[0])
    if rest or ch < 1:
        raise ConversionError(f"{path}: blocks.0.0.conv1.weight {first} is not {out_mult[0]} x D_ch channels")
    c_in = state["blocks.0.0.conv1.weight"].shape[1]
    for i in blocks:
        want = (out_mult[i] * ch, c_in, 3, 3)
        got = tuple(state[f"blocks.{i}.0.conv1.weight"].shape)
        if got != want:
            raise ConversionError(
                f"{path}: blocks.{i}.0.conv1.weight has shape {got}, D_arch[{resolution}] (wide) with "
                f"D_ch={ch} has {want}"
            )
        c_in = want[0]
    with_attention = [i for i in blocks if f"blocks.{i}.1.theta.weight" in state]
    resolutions = sorted({listed[i] for i in with_attention})
    if with_attention != [i for i in blocks if listed[i] in resolutions]:
        raise ConversionError(
            f"{path}: attention after blocks {with_attention}; D_arch[{resolution}] puts it after every "
            f"block listed at {resolutions} ({listed})"
        )
    num_classes, width = state["embed.weight"].shape
    return dict(
        resolution=resolution,
        ch=ch,
        num_classes=int(num_classes),
        attention="_".join(map(str, resolutions)) or "0",
        in_channels=int(state["blocks.0.0.conv1.weight"].shape[1]),
    )


_BN_STATS = {"stored_mean": "mean", "running_mean": "mean", "stored_var": "var", "running_var": "var"}
_DROPPED = ("accumulation_counter", "num_batches_tracked")


def flax_variables(state: Mapping[str, Any], *, embeddings_in_ccbn: bool = False) -> dict[str, dict]:
    """A G or D state dict as ``{"params": ..., "batch_stats": ...}`` of :mod:`gans_jax.models.biggan`
    (see the module doc). ``embeddings_in_ccbn``: the ``ccbn`` gains and biases are class embeddings (no
    ``G_shared``), not linear maps."""
    params: dict[str, Any] = {}
    stats: dict[str, Any] = {}

    def put(tree: dict, path: list[str], value) -> None:
        for part in path[:-1]:
            tree = tree.setdefault(part, {})
        tree[path[-1]] = np.asarray(value)

    for key, value in state.items():
        path: list[str] = []
        for part in key.split("."):
            if part.isdigit() and path:
                path[-1] = f"{path[-1]}_{part}"
            else:
                path.append(part)
        *module, leaf = path
        if not isinstance(value, np.ndarray):
            raise ConversionError(f"state dict entry {key} is a {type(value).__name__}, not a tensor")
        if leaf in _DROPPED or re.fullmatch(r"(u|sv)[1-9]\d*", leaf):
            continue
        if leaf in _BN_STATS:
            if not module or module[-1] != "bn":
                module = [*module, "bn"]
            put(stats, [*module, _BN_STATS[leaf]], value)
        elif leaf in ("u0", "sv0"):
            put(stats, [*module, leaf], value)
        elif leaf == "weight":
            embedding = module[-1] in ("shared", "embed") or (
                embeddings_in_ccbn and module[-1] in ("gain", "bias") and len(module) > 1
            )
            if value.ndim == 4:
                put(params, [*module, "kernel"], value.transpose(2, 3, 1, 0))
            elif value.ndim == 2 and embedding:
                put(params, [*module, "embedding"], value)
            elif value.ndim == 2:
                put(params, [*module, "kernel"], value.T)
            else:
                raise ConversionError(f"state dict entry {key} has shape {value.shape}; expected 2 or 4 axes")
        elif leaf in ("bias", "gain", "gamma"):
            put(params, [*module, leaf], value)
        else:
            raise ConversionError(f"state dict entry {key}: {leaf!r} is not a BigGAN-PyTorch variable")
    return {"params": params, "batch_stats": stats}


def _config(g: dict | None, d: dict | None, run: Mapping[str, Any]):
    from gans_jax.configs import adam, default_config
    from gans_jax.models.biggan import G_ARCH

    settings = {**LAUNCH_SETTINGS, **{k: v for k, v in run.items() if k in LAUNCH_SETTINGS}}
    base = g or d
    resolution, num_classes = base["resolution"], base["num_classes"]
    if g is None:  # only D: a generator of the launch scripts' form at D's width
        chunks = len(G_ARCH[resolution][0]) + 1
        g = dict(ch=d["ch"], latent_dim=20 * chunks, shared_dim=128, hierarchical=True)
        g.update(attention=d["attention"], out_channels=d["in_channels"], bn="bn")
    if d is None:  # only G: D as the run's flags say, else with G's attention (as the launch scripts)
        d_attention = str(run.get("D_attn", g["attention"]))
    else:
        d_attention = d["attention"]
    c = default_config()
    c.model.update(
        name="biggan",
        resolution=resolution,
        conditional=True,
        latent_dim=g["latent_dim"],
        g_channels=g["ch"],
        d_channels=(d or g)["ch"],
        shared_dim=g["shared_dim"],
        hierarchical=g["hierarchical"],
        attention=g["attention"],
        d_attention="" if d_attention == g["attention"] else d_attention,
        bn_eps=float(settings["BN_eps"]),
        sn_eps=float(settings["SN_eps"]),
        sn_itrs=int(settings["num_G_SV_itrs"]),
        d_sn_itrs=int(settings["num_D_SV_itrs"]),
        weight_init=str(settings["G_init"]),
        bn_unbiased_var=g["bn"] != "mybn",
    )
    c.objective.name = "hinge"
    c.optim.g = adam(float(settings["G_lr"]), b1=float(settings["G_B1"]), b2=float(settings["G_B2"]))
    c.optim.d = adam(float(settings["D_lr"]), b1=float(settings["D_B1"]), b2=float(settings["D_B2"]))
    c.train.update(n_critic=int(settings["num_D_steps"]), ema_decay=float(settings["ema_decay"]), ema_start=0)
    return c, (resolution, resolution, g["out_channels"]), num_classes


def _check_run(run: Mapping[str, Any], g: dict | None, d: dict | None, path: str) -> None:
    """``state_dict.pth``'s flags agree with what the tensors show."""
    checks = []
    for net, key, name in ((g, "ch", "G_ch"), (d, "ch", "D_ch"), (g or d, "resolution", "resolution")):
        if net is not None and name in run:
            checks.append((name, run[name], net[key]))
    if g is not None and "n_classes" in run:
        checks.append(("n_classes", run["n_classes"], g["num_classes"]))
    wrong = [f"{name}={flag} but the tensors show {seen}" for name, flag, seen in checks if flag != seen]
    if wrong:
        raise ConversionError(f"{path}: its config does not describe these networks: {'; '.join(wrong)}")


def convert(path: str, kind: str = KIND, overrides: Mapping[str, Any] | None = None) -> Converted:
    """The BigGAN-PyTorch checkpoint at ``path`` (run folder or one network file) as a :class:`Converted`.
    ``overrides``: dotted config keys set last, e.g. ``{"model.sn_eps": 1e-8}`` for a run whose
    ``state_dict.pth`` is missing and whose ``SN_eps`` was not the launch scripts' 1e-6."""
    files = _files(path)
    states: dict[str, dict] = {}
    if "file" in files:
        state = _read(files["file"])
        found = _network_kind(state)
        if found is None:
            raise ConversionError(
                f"{path}: not a BigGAN-PyTorch G or D state dict; found keys {sorted(state)[:8]}, expected "
                "linear.weight, blocks.0.0.conv1.weight and output_layer.2.weight (G) or embed.weight (D)"
            )
        role = "G_ema" if found == "G" and os.path.basename(path).startswith("G_ema") else found
        states[role] = state
        files = {role: path}
    else:
        for role in NETWORKS:
            if role in files:
                states[role] = _read(files[role])
                found = _network_kind(states[role])
                if found != role[0]:
                    what = {"G": "a generator", "D": "a discriminator", None: "no BigGAN-PyTorch network"}
                    raise ConversionError(
                        f"{files[role]} holds {what[found]} (keys {sorted(states[role])[:6]}); expected "
                        f"{what[role[0]]}'s state dict"
                    )
    run = read_run_config(files["state_dict"]) if "state_dict" in files else {}
    converted = from_state_dicts(states, run, files={**files, "": path}, overrides=overrides, kind=kind)
    converted.source = path
    return converted


def from_state_dicts(
    states: Mapping[str, Mapping[str, Any]],
    run: Mapping[str, Any] | None = None,
    *,
    files: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    kind: str = KIND,
) -> Converted:
    """The :class:`Converted` networks of state dicts ``states`` (role ``"G"``, ``"G_ema"``, ``"D"`` ->
    dotted name -> array), with the run's flags ``run`` (:func:`read_run_config`) and ``overrides``.
    ``files`` (role -> file, ``""`` -> the folder) name the sources in error messages."""
    files = files or {}
    run = run or {}
    name = lambda role: files.get(role, role)
    g_role = "G" if "G" in states else "G_ema" if "G_ema" in states else None
    g = infer_generator(states[g_role], name(g_role)) if g_role else None
    if "G" in states and "G_ema" in states:
        ema_arch = infer_generator(states["G_ema"], name("G_ema"))
        if ema_arch != g:
            raise ConversionError(
                f"{name('G_ema')} has another architecture than {name('G')}: {ema_arch} and {g}"
            )
    d = infer_discriminator(states["D"], name("D")) if "D" in states else None
    if g is None and d is None:
        raise ConversionError(f"no BigGAN-PyTorch network: expected roles {NETWORKS}, got {sorted(states)}")
    if g is not None and d is not None:
        if (g["resolution"], g["num_classes"]) != (d["resolution"], d["num_classes"]):
            raise ConversionError(
                f"{name('')}: G makes {g['resolution']}x{g['resolution']} images of {g['num_classes']} "
                f"classes, D takes {d['resolution']}x{d['resolution']} images of {d['num_classes']} classes"
            )
    if run:
        _check_run(run, g, d, name("state_dict"))
    config, sample_shape, num_classes = _config(g, d, run)
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        node = config
        for part in parents:
            node = node[part]
        if leaf not in node:
            raise KeyError(f"override {dotted!r}: no such config key")
        node[leaf] = value

    generator = ema = None
    if g is not None:
        ccbn_embeddings = g["shared_dim"] == 0
        variables = {
            r: flax_variables(states[r], embeddings_in_ccbn=ccbn_embeddings) for r in states if r != "D"
        }
        main = variables[g_role]
        generator = {"params": main["params"], "batch_stats": variables.get("G_ema", main)["batch_stats"]}
        ema = variables.get("G_ema", main)["params"]
    discriminator = flax_variables(states["D"]) if "D" in states else None
    return Converted(
        kind=kind,
        config=config,
        sample_shape=sample_shape,
        num_classes=num_classes,
        generator=generator,
        discriminator=discriminator,
        ema=ema,
    )


__all__ = [
    "KIND",
    "convert",
    "detect",
    "flax_variables",
    "from_state_dicts",
    "infer_discriminator",
    "infer_generator",
    "read_run_config",
]
