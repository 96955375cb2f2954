"""Does the endpoint client measure truly? Its figures against a bare httpx loop and the server's own.

    python -m tests.benchmarks.endpoint [--rounds 30] [--tokens 32] [--delay-ms 10]

A server process (core/serve.py, on loopback) streams tokens at a fixed pace (`--delay-ms` between
tokens, the same before the first). Rounds alternate between the app's client (core.endpoint.stream:
its helper thread, queue and parser) and a bare loop (httpx's stream and iter_lines, a timestamp per
data line) so drift hits both alike. Prints the p50 of TTFT, inter-token latency and end-to-end for
each, the ratios app / bare (target: within 5%), and the client's ITL against the server's own
per-token timing (llama.cpp's `timings` shape).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

import httpx

from core.endpoint import Endpoint, make_client, stream


def serve_paced(delay_ms: float) -> None:
    """The server process: the prompt's words at a fixed pace."""
    from core.serve import Completion, ServerConfig, make_server

    def paced(params, cancel):
        started = time.perf_counter()
        first = None
        for i in range(params.max_tokens):
            time.sleep(delay_ms / 1000)
            first = first or time.perf_counter()
            yield f" w{i}"
        end = time.perf_counter()
        return Completion(prompt_tokens=len(params.prompt.split()), completion_tokens=params.max_tokens,
                          finish_reason="length", prompt_seconds=first - started, decode_seconds=end - first)

    server = make_server(ServerConfig(model_name="paced", backend=paced), port=0)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def bare(client: httpx.Client, url: str, tokens: int) -> tuple[float, list[float], float]:
    body = {"model": "paced", "stream": True, "max_tokens": tokens,
            "messages": [{"role": "user", "content": "time me"}]}
    times = []
    start = time.perf_counter()
    with client.stream("POST", url + "/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                chunk = json.loads(line[5:])
                if chunk["choices"] and chunk["choices"][0].get("delta", {}).get("content"):
                    times.append(time.perf_counter() - start)
    end = time.perf_counter() - start
    return times[0], [b - a for a, b in zip(times, times[1:])], end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_paced(args.delay_ms)
        return
    server = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.endpoint", "--serve",
                               "--delay-ms", str(args.delay_ms)], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{int(server.stdout.readline())}/v1"
        endpoint = Endpoint(base_url=url, model="paced", key_env="SIZELAB_BENCH_NO_KEY")
        app_client, bare_client = make_client(endpoint), make_client(endpoint)
        app = {"ttft": [], "itl": [], "e2e": []}
        plain = {"ttft": [], "itl": [], "e2e": []}
        server_itl = []
        for round_ in range(args.rounds + 2):  # two warm-up rounds each, not counted
            result = stream(endpoint, "time me", max_tokens=args.tokens, client=app_client)
            ttft, itl, e2e = bare(bare_client, url, args.tokens)
            if round_ < 2:
                continue
            app["ttft"].append(result.time_to_first_token)
            app["itl"].extend(result.inter_token_latencies)
            app["e2e"].append(result.end_to_end)
            server_itl.append(result.server_timing["predicted_per_token_ms"] / 1000)
            plain["ttft"].append(ttft)
            plain["itl"].extend(itl)
            plain["e2e"].append(e2e)
    finally:
        server.kill()
        server.wait(5)
        server.stdout.close()
    print(f"endpoint client vs bare httpx loop: {args.rounds} rounds each, interleaved, {args.tokens} tokens, "
          f"server pace {args.delay_ms:g} ms/token (loopback)")
    print(f"{'p50':<22}{'app':>10}{'bare':>10}{'app/bare':>10}")
    for name, label in (("ttft", "time to first token"), ("itl", "inter-token latency"), ("e2e", "end to end")):
        a, b = statistics.median(app[name]), statistics.median(plain[name])
        print(f"{label:<22}{a * 1000:>8.2f}ms{b * 1000:>8.2f}ms{a / b:>10.3f}")
    client_itl, own = statistics.median(app["itl"]), statistics.median(server_itl)
    print(f"client ITL p50 / server's own per-token time: {client_itl * 1000:.2f} / {own * 1000:.2f} ms "
          f"= {client_itl / own:.3f}")


if __name__ == "__main__":
    main()
