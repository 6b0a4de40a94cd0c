"""Write the score, rounds and note it is given to results/result.json."""

import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument("--score", type=float, required=True)
parser.add_argument("--rounds", type=int, default=1)
parser.add_argument("--note", default="none")
args = parser.parse_args()
os.makedirs("results", exist_ok=True)
with open("results/result.json", "w") as out:
    json.dump({"score": args.score, "rounds": args.rounds, "note": args.note}, out)
