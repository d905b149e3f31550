"""How soon after a score is created its cover thumbnail can be downloaded, on the embedded default.

    python bench/cover_latency.py [--runs 20] [--file engraved_etude_a4_8p.pdf]

Starts `scoremate serve` (SQLite, local storage, in-process tasks) in a temporary directory, uploads the
file, then for each run creates a score and polls download-url until the thumbnail is there and fetches it.
Prints the latency from the create response to the downloaded JPEG: median, p90 and max.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.support.server import CORPUS, serve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--file", default="engraved_etude_a4_8p.pdf")
    args = parser.parse_args()
    data = (CORPUS / args.file).read_bytes()
    with tempfile.TemporaryDirectory() as directory, serve(Path(directory)) as server:
        client = httpx.Client(base_url=server.base_url, timeout=30)
        credentials = {"email": "bench@example.com", "password": "benchmark password"}
        client.post("/api/v1/auth/register", json=credentials).raise_for_status()
        token = client.post("/api/v1/auth/login", json=credentials).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        latencies = [_one_run(client, data, args.file) for _ in range(args.runs)]
    latencies.sort()
    print(f"cover thumbnail of {args.file} downloadable after score creation ({args.runs} runs, embedded default)")
    print(f"  median {statistics.median(latencies):7.1f} ms")
    print(f"  p90    {latencies[int(0.9 * (len(latencies) - 1))]:7.1f} ms")
    print(f"  max    {latencies[-1]:7.1f} ms")


def _one_run(client: httpx.Client, data: bytes, filename: str) -> float:
    ticket = client.post(
        "/api/v1/files/upload-url",
        json={"filename": filename, "content_type": "application/pdf", "size_bytes": len(data)},
    ).json()
    httpx.put(ticket["upload_url"], headers=ticket["headers"], content=data).raise_for_status()
    created = client.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Bench"})
    created.raise_for_status()
    started = time.perf_counter()
    params = {"score_id": created.json()["id"], "file_type": "thumbnail"}
    while True:
        link = client.get("/api/v1/files/download-url", params=params)
        if link.status_code == 200:
            image = httpx.get(link.json()["download_url"])
            image.raise_for_status()
            return (time.perf_counter() - started) * 1000
        time.sleep(0.005)


if __name__ == "__main__":
    main()
