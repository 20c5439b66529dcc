"""Batch requests (chunks of 50, per-item results, null items retried) and reads by id."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import responses

from metasync.graph import (
    BatchRequest,
    ObjectNotFoundError,
    PermissionDeniedError,
    TransientError,
    batch,
    read_each,
)
from tests.unit.graph.helpers import BASE, error_body, make_client


def item(body: Any, code: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "body": json.dumps(body),
        "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
    }


def sent_batch(index: int) -> list[dict[str, str]]:
    body = responses.calls[index].request.body
    return json.loads(parse_qs(body)["batch"][0])  # type: ignore[arg-type]


def echo(request: Any) -> tuple[int, dict[str, str], str]:
    inner = json.loads(parse_qs(request.body)["batch"][0])
    return 200, {}, json.dumps([item({"id": r["relative_url"].split("?")[0]}) for r in inner])


@responses.activate
def test_chunks_of_at_most_50_in_order() -> None:
    responses.add_callback(responses.POST, f"{BASE}/", callback=echo)
    client, _ = make_client()
    requests = [BatchRequest(f"{n}?fields=id") for n in range(120)]
    results = batch(client, requests)
    assert [len(sent_batch(i)) for i in range(len(responses.calls))] == [50, 50, 20]
    assert [r.body["id"] for r in results] == [str(n) for n in range(120)]
    assert all(r.ok for r in results)
    assert client.stats.api_calls == 120  # every inner call counts


@responses.activate
def test_null_items_are_retried_and_bounded() -> None:
    responses.post(f"{BASE}/", json=[item({"id": "a"}), None, None])
    responses.post(f"{BASE}/", json=[item({"id": "b"}), None])
    responses.post(f"{BASE}/", json=[None])
    client, _ = make_client()
    results = batch(client, [BatchRequest("a"), BatchRequest("b"), BatchRequest("c")], max_rounds=3)
    assert [len(sent_batch(i)) for i in range(3)] == [3, 2, 1]
    assert [r["relative_url"] for r in sent_batch(1)] == ["b", "c"]
    assert results[0].body == {"id": "a"} and results[1].body == {"id": "b"}
    assert isinstance(results[2].error, TransientError)
    assert "did not complete after 3 rounds" in str(results[2].error)


@responses.activate
def test_per_item_errors_headers_and_aborted_items() -> None:
    usage = {
        "X-Business-Use-Case-Usage": json.dumps(
            {"9": [{"type": "ads_management", "call_count": 40}]}
        )
    }
    responses.post(
        f"{BASE}/",
        json=[
            item({"id": "1"}, headers=usage),
            item(error_body(100, 33), code=400),
            item(error_body(10), code=403),
            item(error_body(960), code=500),
        ],
    )
    responses.post(f"{BASE}/", json=[item({"id": "4"})])
    client, _ = make_client()
    results = batch(client, [BatchRequest(str(n)) for n in range(1, 5)])
    assert results[0].ok and results[0].usage.business[0].call_count == 40
    assert results[0].headers["X-Business-Use-Case-Usage"]
    assert isinstance(results[1].error, ObjectNotFoundError) and not results[1].ok
    assert isinstance(results[2].error, PermissionDeniedError)
    assert results[3].ok and results[3].body == {"id": "4"}  # 960 was sent again
    assert [r["relative_url"] for r in sent_batch(1)] == ["4"]


@responses.activate
def test_read_each_reads_ids_as_batches_of_single_reads() -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        inner = json.loads(parse_qs(request.body)["batch"][0])
        items = []
        for r in inner:
            object_id = r["relative_url"].split("?")[0]
            if object_id == "13":
                items.append(item(error_body(100, 33, "does not exist"), code=400))
            else:
                items.append(item({"id": object_id, "name": f"n{object_id}"}))
        return 200, {}, json.dumps(items)

    responses.add_callback(responses.POST, f"{BASE}/", callback=answer)
    client, _ = make_client()
    found = read_each(client, [str(n) for n in range(120)], ["id", "name"]).found
    assert len(responses.calls) == 3  # 50 + 50 + 20 items
    assert all(call.request.method == "POST" for call in responses.calls)
    assert all("ids=" not in call.request.url for call in responses.calls)
    assert sent_batch(0)[7]["relative_url"] == "7?fields=id,name"
    assert len(found) == 119 and "13" not in found and found["7"]["name"] == "n7"
