"""The PyTorch examples' DCGAN checkpoints convert, and the converted networks equal theirs.

Fixtures: ``tests/fixtures/reference/dcgan/`` (``make_dcgan_fixtures.py`` runs the networks of
pytorch/examples ``dcgan/main.py``; README there). Images agree to 1e-4 in [-1, 1], logits (the input of
their final sigmoid) to 1e-4 of their largest magnitude; ``gans-jax convert`` + ``gans-jax sample
--latents`` reproduce their generator's images for the same latents."""

import os
import shutil

import jax
import numpy as np
import pytest

from gans_jax import builders, pretrained
from gans_jax.cli import main
from gans_jax.pretrained import pytorch_dcgan

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "reference", "dcgan")
REF = np.load(os.path.join(HERE, "dcgan_reference.npz"))
RUN = os.path.join(HERE, "run_nc3")


def close_logits(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=0, atol=1e-4 * np.abs(theirs).max())


def test_run_folder_converts_and_samples_the_same_images(tmp_path, capsys):
    assert pretrained.detect(RUN) == "dcgan-pytorch"
    workdir = tmp_path / "converted"
    main(["gans-jax", "convert", RUN, f"--workdir={workdir}"])
    assert "converted dcgan-pytorch" in capsys.readouterr().out
    config, gan, state = builders.load_run(str(workdir))
    m = config.model
    assert (m.name, m.resolution, m.latent_dim, m.g_channels, m.d_channels) == ("dcgan", 64, 8, 4, 4)
    assert gan.num_classes is None and state.ema_params is None  # the example keeps no EMA generator

    z = REF["nc3_z"]
    np.save(tmp_path / "z.npy", z)
    main(
        [
            "gans-jax",
            "sample",
            f"--workdir={workdir}",
            f"--latents={tmp_path / 'z.npy'}",
            f"--out={tmp_path / 'x.npy'}",
        ]
    )
    images = np.load(tmp_path / "x.npy")
    np.testing.assert_allclose(images, REF["nc3_g_eval"], rtol=0, atol=1e-4)  # epoch 1, the last
    train_images = gan.generate(state, z, train=True)  # the batch's statistics
    np.testing.assert_allclose(np.asarray(train_images), REF["nc3_g_train"], rtol=0, atol=1e-4)
    d_vars = {"params": state.d_params, **state.d_collections}
    close_logits(gan.discriminator.apply(d_vars, REF["nc3_g_eval"], train=False), REF["nc3_d_eval"])
    logits, _ = gan.discriminator.apply(d_vars, REF["nc3_g_eval"], train=True, mutable=["batch_stats"])
    close_logits(logits, REF["nc3_d_train"])


def test_another_configuration_alone():
    """nz=16, ngf=2, one channel, a generator file alone (legacy serialisation): D stays random."""
    path = os.path.join(HERE, "netG_nc1.pth")
    assert pretrained.detect(path) == "dcgan-pytorch"
    c = pretrained.convert(path)
    assert c.sample_shape == (64, 64, 1) and c.discriminator is None
    assert (c.config.model.latent_dim, c.config.model.g_channels) == (16, 2)
    gan = builders.build_gan(c.config, c.sample_shape, None)
    z = REF["nc1_z"]
    np.testing.assert_allclose(
        np.asarray(gan.generator.apply(c.generator, z, train=False)), REF["nc1_g_eval"], atol=1e-4, rtol=0
    )
    out, _ = gan.generator.apply(c.generator, z, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(np.asarray(out), REF["nc1_g_train"], atol=1e-4, rtol=0)


def test_epochs_and_wrong_files(tmp_path):
    assert pytorch_dcgan.epoch_files(RUN) == {
        "G": os.path.join(RUN, "netG_epoch_1.pth"),
        "D": os.path.join(RUN, "netD_epoch_1.pth"),
    }
    epoch0 = pytorch_dcgan.epoch_files(os.path.join(RUN, "netD_epoch_0.pth"))
    assert epoch0 == {"G": os.path.join(RUN, "netG_epoch_0.pth"), "D": os.path.join(RUN, "netD_epoch_0.pth")}
    first = pretrained.convert(os.path.join(RUN, "netG_epoch_0.pth"))
    last = pretrained.convert(RUN)
    assert not np.allclose(
        first.generator["params"]["Dense_0"]["kernel"], last.generator["params"]["Dense_0"]["kernel"]
    )

    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    shutil.copy(run / "netD_epoch_1.pth", run / "netG_epoch_1.pth")  # a discriminator saved as G
    with pytest.raises(
        pretrained.ConversionError, match=r"netG_epoch_1.pth: expected the PyTorch examples' DCGAN Generator"
    ):
        pretrained.convert(run, "dcgan-pytorch")
    data = (run / "netG_epoch_0.pth").read_bytes()
    (run / "netG_epoch_0.pth").write_bytes(data[:1000])
    with pytest.raises(pretrained.ConversionError, match=r"cannot be read as a torch state dict .*truncated"):
        pretrained.convert(run / "netG_epoch_0.pth")
    with pytest.raises(pretrained.ConversionError, match=r"expected the PyTorch examples' DCGAN Generator"):
        pretrained.convert(os.path.join(HERE, "..", "pix2pix", "resnet_batch_zoo.pth"), "dcgan-pytorch")
    os.remove(run / "netG_epoch_1.pth")
    os.remove(run / "netG_epoch_0.pth")
    with pytest.raises(
        pretrained.ConversionError, match=r"no netG_epoch_N.pth \(a D alone does not tell nz\)"
    ):
        pretrained.convert(run, "dcgan-pytorch")
    assert jax.tree.leaves(first.discriminator)  # epoch 0's D came with its G
