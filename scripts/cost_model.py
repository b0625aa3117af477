#!/usr/bin/env python3
"""Cost per million events, computed from the figures `make bench` measured (.run/bench.txt) and
AWS's published on-demand prices (us-east-1). Prints a Markdown table for docs/PERFORMANCE.md.

Usage: scripts/cost_model.py [.run/bench.txt]

What is measured and what is assumed is said next to each line. Every price names its source page;
they are the public on-demand list prices for us-east-1 as published in 2025 (DynamoDB's after its
November 2024 reduction), read on 2026-11-30.
"""
import math
import re
import sys

PRICES = {
    # DynamoDB pricing page, on-demand capacity, us-east-1.
    "dynamodb_wru": (0.625 / 1e6, "aws.amazon.com/dynamodb/pricing/on-demand: $0.625 per million write request units"),
    "dynamodb_rru": (0.125 / 1e6, "aws.amazon.com/dynamodb/pricing/on-demand: $0.125 per million read request units"),
    "storage_standard": (0.25, "aws.amazon.com/dynamodb/pricing: $0.25 per GB-month, Standard table class"),
    "storage_ia": (0.10, "aws.amazon.com/dynamodb/pricing: $0.10 per GB-month, Standard-IA table class"),
    # SQS pricing page: standard queue, per request (each 64 KB chunk of a payload is one request).
    "sqs_request": (0.40 / 1e6, "aws.amazon.com/sqs/pricing: $0.40 per million standard-queue requests"),
    # Lambda pricing page, Arm.
    "lambda_request": (0.20 / 1e6, "aws.amazon.com/lambda/pricing: $0.20 per million requests"),
    "lambda_gb_s": (0.0000133334, "aws.amazon.com/lambda/pricing: $0.0000133334 per GB-second (Arm)"),
    # API Gateway pricing page, HTTP APIs, first 300 million a month (each 512 KB is one request).
    "http_api_request": (1.00 / 1e6, "aws.amazon.com/api-gateway/pricing: $1.00 per million HTTP API requests"),
}

# Assumed, not measured here (no AWS account): billed duration and memory of each function, from the
# template's memory sizes and durations typical of a Rust function waiting on one AWS call.
WRITE_MS, WRITE_GB = 10, 0.25
DRAIN_MS_PER_BATCH, DRAIN_GB = 60, 0.25
READ_MS, READ_GB = 40, 0.5
COUNT_MS_PER_BATCH, COUNT_GB = 40, 0.25
# The event source mapping receives up to 10 messages a ReceiveMessage and deletes them in batches;
# with the 1 s batching window and BatchSize 100 that is about 0.1 receive + 0.1 delete per message.
SQS_POLL_PER_MESSAGE = 0.2
ITEM_OVERHEAD = 100  # bytes DynamoDB adds per stored item for indexing (Developer Guide, item sizes)


def measured(text):
    def grab(pattern, cast=float):
        m = re.search(pattern, text)
        if not m:
            sys.exit(f"cost_model: {pattern!r} not found in the bench output; run make bench first")
        return cast(m.group(1))

    out = {
        "wru_plain": grab(r"write units per event without customer_id: mean ([\d.]+)"),
        "wru_customer": grab(r"write units per event with customer_id: mean ([\d.]+)"),
        "item_plain": grab(r"stored bytes per event without customer_id: item (\d+)"),
        "index_plain": grab(r"stored bytes per event without customer_id: item \d+, index entries (\d+)"),
        "item_customer": grab(r"stored bytes per event with customer_id: item (\d+)"),
        "index_customer": grab(r"stored bytes per event with customer_id: item \d+, index entries (\d+)"),
        "drain_calls": grab(r"drain BatchWriteItem calls per event: ([\d.]+)"),
    }
    # The last (largest) size's page figures, per query; older runs print no round trips ("rt").
    pages, counts = {}, {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+) \| (.+?)\s+\|\s+(\d+) items\s+(\d+) req(?:\s+\d+ rt)? \|.*count\s+(\d+) items\s+(\d+) req", line)
        if m:
            size, query, items, reqs, count_items, count_reqs = m.groups()
            pages[query] = (int(size), int(items), int(reqs), int(count_items), int(count_reqs))
        # bench-reads' third size: what total_records reads, without a page.
        m = re.match(r"\s*(\d+) \| (.+?)\s+\| count only:\s+(\d+) items\s+(\d+) req", line)
        if m:
            size, query, count_items, count_reqs = m.groups()
            counts[query] = (int(size), int(count_items), int(count_reqs))
    out["pages"] = pages
    out["counts"] = counts
    # bench-counters: write units per event the counters add, live arrivals at 100-record batches.
    m = re.search(r"^live, .*?\|\s+100 \|\s+(\d+) \|.*?\|.*?\|\s+([\d.]+) \|", text, re.M)
    out["counter_wru"] = float(m.group(2)) if m else None
    return out


def price(key):
    return PRICES[key][0]


def write_cost(m, events_per_request, with_customer_share=0.5):
    """Dollars per million events written."""
    n = 1e6
    requests = n / events_per_request
    wru = n * (m["wru_customer"] * with_customer_share + m["wru_plain"] * (1 - with_customer_share))
    # One SendMessage per request: a batch of 100 small events fits one 64 KB chunk.
    sqs = requests + n / events_per_request * SQS_POLL_PER_MESSAGE
    drain_invocations = requests / 100
    lines = {
        "API Gateway": requests * price("http_api_request"),
        "write Lambda": requests * (price("lambda_request") + WRITE_MS / 1000 * WRITE_GB * price("lambda_gb_s")),
        "SQS": sqs * price("sqs_request"),
        "drain Lambda": drain_invocations * (price("lambda_request") + DRAIN_MS_PER_BATCH / 1000 * DRAIN_GB * price("lambda_gb_s")),
        "DynamoDB writes": wru * price("dynamodb_wru"),
    }
    if m["counter_wru"] is not None:
        # The stream's reads by a Lambda event source mapping are free; the count function runs once
        # per stream batch (100 records assumed: a quiet table's batches are smaller than BatchSize).
        lines["counters: DynamoDB writes"] = n * m["counter_wru"] * price("dynamodb_wru")
        lines["counters: count Lambda"] = n / 100 * (price("lambda_request") + COUNT_MS_PER_BATCH / 1000 * COUNT_GB * price("lambda_gb_s"))
    return lines


def query_units(entries, requests, entry_bytes):
    """Eventually consistent read units of `requests` queries that read `entries` index entries in all:
    each query is billed per started 4 KB it reads, at half a unit per 4 KB."""
    if requests <= 0:
        return 0.0
    per_request = entries / requests * entry_bytes
    return requests * max(math.ceil(per_request / 4096), 1) * 0.5


def read_units(items_read, requests, entry_bytes, item_bytes, fetched=20):
    """Read units of one page: its index queries, plus one BatchGetItem billed per item, each rounded
    up to 4 KB at half a unit."""
    fetched = min(fetched, items_read)
    queries = requests - 1 if fetched else requests
    return query_units(items_read - fetched, queries, entry_bytes) + fetched * math.ceil(item_bytes / 4096) * 0.5


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else ".run/bench.txt"
    m = measured(open(path).read())
    # One KEYS_ONLY index entry as a query reads it (the 100-byte index overhead is storage only).
    entry = m["index_plain"] / 2 - ITEM_OVERHEAD
    item = (m["item_plain"] + m["item_customer"]) / 2

    print("| cost per million events | single writes | batched writes of 100 |")
    print("|---|---:|---:|")
    single, batched = write_cost(m, 1), write_cost(m, 100)
    for key in single:
        print(f"| {key} | ${single[key]:.3f} | ${batched[key]:.3f} |")
    print(f"| **total** | **${sum(single.values()):.2f}** | **${sum(batched.values()):.2f}** |")
    print()

    # What total_records reads is billed as the index entries it is (counter items are smaller than
    # an index entry, so their figure is an upper bound).
    print("| read, per million pages (page_size 20) | events stored | items read per page | read units per page | $ per million pages, page | $ per million pages, with total_records |")
    print("|---|---:|---:|---:|---:|---:|")
    lambda_cost = price("lambda_request") + READ_MS / 1000 * READ_GB * price("lambda_gb_s") + price("http_api_request")
    for query, (size, items, reqs, count_items, count_reqs) in m["pages"].items():
        units = read_units(items, reqs, entry, item)
        page_cost = 1e6 * (units * price("dynamodb_rru") + lambda_cost)
        with_count = page_cost + 1e6 * query_units(count_items, count_reqs, entry) * price("dynamodb_rru")
        print(f"| {query} | {size:,} | {items} | {units:.1f} | ${page_cost:.2f} | ${with_count:.2f} |")
    print()
    if m["counts"]:
        print("| total_records alone, per million answers | events stored | items read | read units | $ per million |")
        print("|---|---:|---:|---:|---:|")
        for query, (size, count_items, count_reqs) in m["counts"].items():
            units = query_units(count_items, count_reqs, entry)
            print(f"| {query} | {size:,} | {count_items} | {units:.1f} | ${1e6 * units * price('dynamodb_rru'):.2f} |")
        print()

    per_event = ((m["item_plain"] + m["index_plain"] + m["item_customer"] + m["index_customer"]) / 2
                 + ITEM_OVERHEAD * 3)
    gb = 1e6 * per_event / 1e9
    print("| storage of a million events, per month | bytes per event (item + index entries + overhead) | GB | Standard | Standard-IA |")
    print("|---|---:|---:|---:|---:|")
    print(f"| half of them with customer_id | {per_event:.0f} | {gb:.3f} | ${gb * price('storage_standard'):.3f} | ${gb * price('storage_ia'):.3f} |")
    print()
    ingest_gb = 1e6 * (m["item_plain"] + m["item_customer"]) / 2 / 1e9
    print(f"For comparison, CloudTrail Lake charges $0.75 to $2.50 per GB ingested: a million of these "
          f"events ({ingest_gb:.2f} GB) would cost ${ingest_gb * 0.75:.2f} to ${ingest_gb * 2.50:.2f} to ingest, "
          f"against ${sum(batched.values()):.2f} (batched) to ${sum(single.values()):.2f} (single) here, "
          f"plus storage above.")
    print()
    print("Prices (us-east-1, on-demand list prices as published in 2025, read 2026-11-30):")
    for _, (_, source) in PRICES.items():
        print(f"- {source}")
    print("- CloudTrail Lake: $0.75 to $2.50 per GB ingested (aws.amazon.com/cloudtrail/pricing), as the issue quotes it")


if __name__ == "__main__":
    main()
