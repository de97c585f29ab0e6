"""Memory of a real `tangpoet serve` under clients that disconnect at random (issue 37): the server's RSS every 5 s
while CLIENTS threads send random writing requests and hang up after 0–0.5 s, then while it is idle (with /health).

    KERAS_BACKEND=torch python benchmarks/serve_disconnects.py --seconds 60 --clients 16 [-- serve options]

Prints ``seconds rss GB requests``; a server that gives memory back when idle ends lower than its peak.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("serve", nargs="*", help="options for tangpoet serve (after --)")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "tangpoet", "serve", "--port", "0", *args.serve],
                              stderr=subprocess.PIPE, text=True)
    host = port = None
    for line in server.stderr:
        found = re.search(r"http://([\d.]+):(\d+)/", line)
        if found:
            host, port = found.group(1), int(found.group(2))
            break
    if host is None:
        sys.exit("tangpoet serve did not start")
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()

    def rss() -> float:
        with open(f"/proc/{server.pid}/status") as status:
            return next(int(line.split()[1]) / 1e6 for line in status if line.startswith("VmRSS"))

    stop = time.monotonic() + args.seconds
    count = [0]

    def client(i: int) -> None:
        rng = random.Random(i)
        while time.monotonic() < stop:
            body = json.dumps({
                "begin": rng.choice("山月春秋风花"), "seed": rng.randrange(1000),
                "form": rng.choice(["五言绝句", "七言绝句", None]), "decoder": rng.choice(["top-p", "beam", "sample"]),
                "num": rng.choice([1, 2, 4]),
            }, ensure_ascii=False).encode()
            path = rng.choice(["/generate_stream", "/generate"])
            with socket.create_connection((host, port)) as s:
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                          f"content-length: {len(body)}\r\n\r\n".encode() + body)
                time.sleep(rng.random() * 0.5)
            count[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    began = time.monotonic()
    print("start", round(rss(), 3), flush=True)
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(5)
        print(round(time.monotonic() - began), "rss GB", round(rss(), 3), "requests", count[0], flush=True)
    for _ in range(4):
        time.sleep(5)
        health = urllib.request.urlopen(f"http://{host}:{port}/health").read().decode()
        print("idle rss GB", round(rss(), 3), health, flush=True)
    server.terminate()
    server.wait()


if __name__ == "__main__":
    main()
