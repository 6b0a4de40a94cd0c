"""Study step for the aioflowserv SDK: a noisy quadratic, written as the run's result."""
import argparse
import json
import os
import random
import sys
import time
import zlib

BONUS = {'a': 0.0, 'b': 1.0, 'c': 0.5}

p = argparse.ArgumentParser()
p.add_argument('--x', type=float, required=True)
p.add_argument('--y', type=float, required=True)
p.add_argument('--method', default='a')
p.add_argument('--noise', type=float, default=0.0)
p.add_argument('--sleep', type=float, default=0.5)
p.add_argument('--fail', default='False')
p.add_argument('--outdir', default='results')
a = p.parse_args()
time.sleep(a.sleep)
if a.fail.lower() == 'true':
    print('quadratic: failing on purpose (fail=true) at x={} y={}'.format(a.x, a.y), file=sys.stderr, flush=True)
    sys.exit(1)
loss = (a.x - 1.5) ** 2 + (a.y + 0.5) ** 2 - BONUS.get(a.method, 0.0)
seed = zlib.crc32('{:.9f} {:.9f} {}'.format(a.x, a.y, a.method).encode())  # same arguments, same noise
score = -loss + a.noise * random.Random(seed).gauss(0.0, 1.0)
os.makedirs(a.outdir, exist_ok=True)
with open(os.path.join(a.outdir, 'result.json'), 'w') as f:
    json.dump({'score': score, 'loss': loss, 'method': a.method}, f)
print('quadratic: score {:.4f}'.format(score), flush=True)
