"""The link of ``golden compare`` to Phoenix's experiment comparison, against a real Phoenix: the
dataset and experiment ids that phoenix-client returns are the ones the comparison page reads
(``/datasets/<dataset_id>/compare?experimentId=<base>&experimentId=<candidate>``, the form of
Phoenix 20.x's UI and of phoenix-client's ``get_experiment_url``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from agenttrace_phoenix.golden.compare import compare
from agenttrace_phoenix.golden.report import phoenix_compare_url
from agenttrace_phoenix.golden.results import PhoenixInfo

from golden_compare_runs import golden_run


def test_the_link_opens_the_two_experiments_of_the_dataset(phoenix_server):
    from phoenix.client import Client

    client = Client(base_url=phoenix_server.url)
    dataset = client.datasets.create_dataset(name="golden-compare-link", inputs=[{"product": "tent"}],
                                             outputs=[{"reference_output": "The tent ends tonight."}])
    ids = [client.experiments.create(dataset_id=dataset.id, experiment_name=name)["id"] for name in ("base", "cand")]
    base, cand = golden_run("base", seed=1, examples=2), golden_run("cand", seed=2, examples=2)
    for run, experiment_id in zip((base, cand), ids):
        run.phoenix = PhoenixInfo(url=phoenix_server.url, dataset_id=dataset.id, experiment_id=experiment_id)
    url = phoenix_compare_url(compare(base, cand))

    assert url.startswith(client.experiments.get_experiment_url(dataset.id, ids[0]))   # phoenix-client's own form
    assert parse_qs(urlsplit(url).query)["experimentId"] == ids                       # base first: Phoenix's base
    page = httpx.get(url)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    # what the page asks Phoenix for: the dataset by its id, the experiments by theirs, of that dataset
    query = """query ($d: ID!, $a: ID!, $b: ID!) {
      d: node(id: $d) { ... on Dataset { name experiments { edges { node { id } } } } }
      a: node(id: $a) { ... on Experiment { name } }  b: node(id: $b) { ... on Experiment { name } } }"""
    data = httpx.post(f"{phoenix_server.url}/graphql", json={"query": query, "variables": {
        "d": dataset.id, "a": ids[0], "b": ids[1]}}).json()
    assert "errors" not in data, data
    assert data["data"]["d"]["name"] == "golden-compare-link"
    assert {e["node"]["id"] for e in data["data"]["d"]["experiments"]["edges"]} == set(ids)
    assert (data["data"]["a"]["name"], data["data"]["b"]["name"]) == ("base", "cand")
