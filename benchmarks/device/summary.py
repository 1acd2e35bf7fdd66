"""The device check's summary: one table row per part from ``OUT/<part>.json``, and ``OUT/summary.json``.

    python -m benchmarks.device.summary OUT [--parts smoke dcgan ...] [--wall SECONDS]

Exits 1 when a part is missing or did not finish ``ok``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchmarks.device.parts import PARTS

GIB = 2**30


def _num(x, fmt: str = ".3g") -> str:
    return "-" if x is None else format(x, fmt)


def headline(part: str, result: dict | None, dry: bool) -> str:
    """The part's numbers in one line (or a few, ``"; "``-separated)."""
    r = result or {}
    if part == "smoke":
        if dry:
            return f"{r.get('tests_collected', r.get('test_collected', '?'))} tests collected"
        return f"{r.get('passed', 0)} passed, {r.get('failed', 0)} failed, {r.get('skipped', 0)} skipped"
    if part == "dcgan":
        rows = []
        for row in r.get("rows", []):
            torch = row.get("torch_steps_per_s")
            vs = f" vs torch {row.get('torch_mode')} {_num(torch)} (x{_num(row.get('ratio'))})"
            up = "" if row.get("upsample") in (None, "auto") else f" upsample={row['upsample']}"
            rate = _num(row.get("steps_per_s"))
            rows.append(f"b{row.get('batch')} {row.get('dtype')}{up}: {rate} steps/s{vs if torch else ''}")
        return "; ".join(rows)
    if part == "inception":
        v = r.get("variants_images_per_s") or {}
        jax_side = ", ".join(f"{k} {_num(x, '.0f')}" for k, x in v.items())
        torch = f"torch fp32 {_num(r.get('torch_images_per_s'), '.0f')}"
        if r.get("torch_tf32_images_per_s"):
            torch += f", torch tf32 {_num(r['torch_tf32_images_per_s'], '.0f')}"
        return f"batch {r.get('batch_size')}, images/s: {jax_side}; {torch} ({r.get('torch_device')})"
    if part == "biggan":
        peak = r.get("peak_bytes") or r.get("program_bytes")
        return (
            f"{_num(r.get('s_per_iteration_at_2048'))} s per batch-2048 iteration (accumulation "
            f"{r.get('accumulation')}, {r.get('dtype')}), peak {_num(peak and peak / GIB, '.1f')} GiB; "
            f"goal < {r.get('goal_s_per_iteration')} s"
        )
    if part == "stylegan2":
        return (
            f"{_num(r.get('s_per_kimg'))} s/kimg at {r.get('resolution')}, batch {r.get('batch')} "
            f"({r.get('dtype')}); StyleGAN2-ADA: V100 21.6-24.2, A100 12.5"
        )
    if part == "fid":
        return (
            f"{r.get('num_images')} images in {_num(r.get('seconds'))} s "
            f"({_num(r.get('images_per_s'), '.0f')} images/s), compile + first batches "
            f"{_num(r.get('compile_and_first_batches_s'))} s"
        )
    return ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--parts", nargs="*", default=list(PARTS))
    p.add_argument("--wall", type=float, default=None, help="the whole run's seconds")
    args = p.parse_args(argv)
    records, ok = {}, True
    for part in args.parts:
        path = os.path.join(args.out, f"{part}.json")
        try:
            with open(path) as f:
                records[part] = json.load(f)
        except (OSError, ValueError) as e:
            records[part] = {"part": part, "status": "missing", "error": str(e)}
        ok &= records[part].get("status") == "ok"
    dry = any(rec.get("dry_run") for rec in records.values())
    where = " (dry run, CPU)" if dry else ""
    print(f"device check{where}: {len(records)} parts, wall {_num(args.wall, '.0f')} s")
    print(f"| {'part':<9} | {'status':<8} | {'s':>5} | result")
    print(f"|{'-' * 11}|{'-' * 10}|{'-' * 7}|{'-' * 40}")
    for part, rec in records.items():
        line = headline(part, rec.get("result"), dry) if rec.get("result") else rec.get("error", "")
        print(f"| {part:<9} | {rec.get('status', '?'):<8} | {_num(rec.get('seconds'), '.0f'):>5} | {line}")
    environment = next((r["environment"] for r in records.values() if "environment" in r), {})
    summary = {"ok": ok, "dry_run": dry, "wall_s": args.wall, "environment": environment, "parts": records}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
