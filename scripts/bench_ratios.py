#!/usr/bin/env python3
"""Prints per-iteration times of the last criterion run and the ratios issue 7 sets as goals.

Reads target/criterion/<group>/<bench>/new/sample.json. On a shared machine another process can
only make a sample slower, never faster, so the fastest sample (min) is the least disturbed
estimate; the median is printed beside it. Usage: scripts/bench_ratios.py [TARGET_DIR]
"""
import glob
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
times = {}
for path in sorted(glob.glob(os.path.join(target, "criterion", "*", "*", "new", "sample.json"))):
    name = os.path.relpath(path, os.path.join(target, "criterion"))[: -len("/new/sample.json")]
    if name.split("/")[0] not in ("validate", "issue", "layer", "cache"):
        continue
    sample = json.load(open(path))
    per_iter = sorted(t / i for t, i in zip(sample["times"], sample["iters"]))
    times[name] = (per_iter[0], per_iter[len(per_iter) // 2])
    print(f"{name:40} min {per_iter[0]:9.1f} ns   median {per_iter[len(per_iter) // 2]:9.1f} ns")


def ratio(label, numerator, denominator, goal, at_most=True):
    if all(n in times for n in numerator + denominator):
        for i, kind in ((0, "min"), (1, "median")):
            top = sum(times[n][i] for n in numerator)
            bottom = sum(times[n][i] for n in denominator)
            met = top / bottom <= goal if at_most else top / bottom >= goal
            print(f"{label:58} {kind:6} {top / bottom:6.2f}  (goal {'<=' if at_most else '>='} {goal}) {'ok' if met else 'MISSED'}")


print()
ratio("verify_access_token / hmac_floor", ["validate/verify_access_token"], ["validate/hmac_floor"], 2.5)
ratio("verify_access_token / jsonwebtoken_decode", ["validate/verify_access_token"], ["validate/jsonwebtoken_decode"], 0.3)
ratio("issue_pair / hmac_floor", ["issue/issue_pair"], ["issue/hmac_floor"], 5)
ratio("protected_valid_token / (bare_inner_with_bearer + verify)", ["layer/protected_valid_token"], ["layer/bare_inner_with_bearer", "layer/verify_access_token"], 1.2)
ratio("protected_valid_token / (bare_..._and_claims + verify)", ["layer/protected_valid_token"], ["layer/bare_inner_with_bearer_and_claims", "layer/verify_access_token"], 1.2)
ratio("cache hit / hmac_floor", ["cache/hit"], ["cache/hmac_floor"], 0.5)
ratio("cache hit / verify_access_token", ["cache/hit"], ["cache/verify_access_token"], 1)
ratio("cache miss / verify_access_token (the cost of a miss)", ["cache/miss"], ["cache/verify_access_token"], 1.2)
ratio("protected_valid_token_cached / protected_valid_token", ["layer/protected_valid_token_cached"], ["layer/protected_valid_token"], 1)
ratio("pass_through / bare_inner", ["layer/pass_through"], ["layer/bare_inner"], 1.1)
