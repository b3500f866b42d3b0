"""How often does docvl.latex agree with KaTeX 0.16.21 on whether a math string renders?

Reads the labelled corpora in bench/data (committed, so no node is needed) and prints one summary line:
agreement, false accepts (we say ok, KaTeX fails), false rejects, on the main corpus and the held-out one,
and single-core throughput.

    python bench/latex_agreement.py                 # score the committed corpora
    python bench/latex_agreement.py --show 20       # also list disagreements
    python bench/latex_agreement.py --oracle        # regenerate + relabel both corpora with node + KaTeX

--oracle needs node and `npm install katex@0.16.21` (pass --katex NODE_MODULES_DIR) and the oracle script
(--oracle-script, default $KATEX_ORACLE or ../shared/tools/katex_oracle.js next to the checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from docvl.latex import explain, is_renderable  # noqa: E402

DATA = ROOT / "bench" / "data"
CORPORA = {"main": (DATA / "latex_corpus.jsonl", 3600, 1), "heldout": (DATA / "latex_heldout.jsonl", 1000, 7)}


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def score(records: list[dict]) -> dict:
    """Agreement counts; `wrong` lists the disagreements."""
    wrong = [r for r in records if is_renderable(r["latex"], r["display"]) != r["ok"]]
    false_accept = sum(1 for r in wrong if not r["ok"])
    n = len(records)
    return {
        "n": n,
        "agreement": 1 - len(wrong) / n,
        "false_accept": false_accept / n,
        "false_reject": (len(wrong) - false_accept) / n,
        "wrong": wrong,
    }


def throughput(records: list[dict], rounds: int = 3) -> float:
    """Strings per second on one core (best of `rounds` passes)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for r in records:
            is_renderable(r["latex"], r["display"])
        best = min(best, time.perf_counter() - t0)
    return len(records) / best


def relabel(katex: str, oracle: str) -> None:
    """Regenerate both corpora and label each string with KaTeX's own verdict."""
    from make_latex_corpus import generate

    for split, (path, n, seed) in CORPORA.items():
        records = generate(split, n, seed)
        feed = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        proc = subprocess.run(
            ["node", oracle, "--katex", katex], input=feed, capture_output=True, text=True, check=True
        )
        verdicts = {v["id"]: v for v in map(json.loads, proc.stdout.splitlines())}
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for r in records:
                v = verdicts[r["id"]]
                error = v["error"] and v["error"].split(" at position")[0]  # drop KaTeX's echo of the input
                fh.write(json.dumps({**r, "ok": v["ok"], "error": error}, ensure_ascii=False) + "\n")
        print(f"{path.relative_to(ROOT)}: {proc.stderr.strip()}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oracle", action="store_true", help="regenerate and relabel the corpora with KaTeX first")
    ap.add_argument("--katex", default=os.environ.get("KATEX_NODE_MODULES", "/tmp/katex/node_modules"))
    ap.add_argument(
        "--oracle-script",
        default=os.environ.get("KATEX_ORACLE", str(ROOT.parent / "shared" / "tools" / "katex_oracle.js")),
    )
    ap.add_argument("--show", type=int, default=0, help="print up to N disagreements per corpus")
    args = ap.parse_args(argv)
    if args.oracle:
        relabel(args.katex, args.oracle_script)
    parts = []
    for split, (path, _, _) in CORPORA.items():
        result = score(load(path))
        parts.append(
            f"{split} n={result['n']} agreement={result['agreement']:.2%} "
            f"false_accept={result['false_accept']:.2%} false_reject={result['false_reject']:.2%}"
        )
        for r in result["wrong"][: args.show]:
            ours = explain(r["latex"], r["display"])
            print(f"  {split} katex_ok={r['ok']} ours={ours!r} katex={r['error']!r}\n    {r['latex']!r}")
    rate = throughput(load(CORPORA["main"][0]))
    print(" | ".join(parts) + f" | {rate:,.0f} strings/s (1 core)")


if __name__ == "__main__":
    main()
