"""The OpenAPI schema of `tangpoet serve` says what the server accepts (issue 23, defect 6): strict types, the decoder
and form enums read from the registry at start-up, each decoder's own options, 400 documented — and a bounded
schemathesis run against a real server that must find nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("sse_starlette")
httpx = pytest.importorskip("httpx")

from _serve_helpers import Server, tiny_model_file

from tangpoet.limits import DECODER_OPTIONS, MAX_HTTP_POEMS

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("schema"))


@pytest.fixture(scope="module")
def server(model_path):
    s = Server(model_path, "--time-limit", "20")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def schema(server) -> dict:
    return httpx.get(server.url + "/openapi.json", timeout=30).json()


def request_schema(schema: dict) -> dict:
    return schema["components"]["schemas"]["GenerateRequest"]


def test_types_are_strict(server, schema):
    props = request_schema(schema)["properties"]
    assert props["exact"]["anyOf"][0] == {"type": "boolean"}
    with server.client() as client:
        for body in ({"exact": 0}, {"exact": "true"}, {"num": True}, {"seed": "1"}, {"temperature": "0.5"}, {"seed": 1.5}):
            response = client.post("/generate", json=body)
            assert response.status_code == 422, (body, response.text)
        # what JSON Schema calls an integer is one: 2.0 is the number 2
        assert client.post("/generate", json={"seed": 2.0, "num": 1.0, "max_len": 8.0}).status_code == 200


def test_enums_come_from_the_registry_and_the_forms(server, schema):
    from tangpoet.decoding.forms import form_names

    props = request_schema(schema)["properties"]
    info = httpx.get(server.url + "/info", timeout=30).json()
    assert props["decoder"]["enum"] == info["decoders"] and {"greedy", "top-p", "beam"} <= set(info["decoders"])
    assert not {"rhyme-beam", "rhyme-sample"} & set(props["decoder"]["enum"])  # retired: not offered
    assert props["form"]["anyOf"][0]["enum"] == form_names(traditional=True)  # every spelling the server takes
    with server.client() as client:  # a name outside the enum is refused, even one the library would take
        assert client.post("/generate", json={"form": "WUJUE"}).status_code == 400
        assert client.post("/generate", json={"form": "wujue", "max_len": 24, "seed": 1}).status_code == 200


def test_decoder_options_are_bounded_and_belong_to_their_decoders(schema):
    request = request_schema(schema)
    props = request["properties"]
    for name, option in DECODER_OPTIONS.items():
        assert props[name]["maximum"] == option.high
        assert props[name].get("exclusiveMinimum" if option.above_low else "minimum") == option.low
    assert props["num"]["maximum"] == MAX_HTTP_POEMS
    rules = {rule["if"].get("properties", {}).get("decoder", {}).get("const"): rule["then"]["properties"]
             for rule in request["allOf"] if "properties" in rule["if"]}
    assert rules["greedy"]["temperature"] == {"type": "null"} and rules["greedy"]["options"] == {"maxProperties": 0}
    assert "beam_width" not in rules["beam"] and rules["beam"]["top_k"] == {"type": "null"}
    default = [rule for rule in request["allOf"] if "anyOf" in rule["if"]]  # top-p, also when no decoder is named
    assert len(default) == 1 and "top_p" not in default[0]["then"]["properties"]


def test_every_operation_documents_its_errors(schema):
    for path in ("/generate", "/generate_stream", "/check"):
        responses = schema["paths"][path]["post"]["responses"]
        assert {"400", "415", "422"} <= set(responses), (path, sorted(responses))
        assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_a_decoder_registered_at_run_time_is_offered(model_path):
    """One registry object per kind: what `DECODERS.register` adds shows in /info and in the schema's enum."""
    from fastapi.testclient import TestClient

    from tangpoet.decoding import DECODERS
    from tangpoet.decoding.greedy import GreedyDecoder
    from tangpoet.model.poem_model import load_model
    from tangpoet.serve.app import create_app

    @DECODERS.register("run-time-greedy")
    class RunTimeGreedy(GreedyDecoder):
        name = "run-time-greedy"

    try:
        app = create_app(load_model(model_path), model_path=str(model_path), backend="any", max_batch=2)
        with TestClient(app) as client:
            assert "run-time-greedy" in client.get("/info").json()["decoders"]
            enum = client.get("/openapi.json").json()["components"]["schemas"]["GenerateRequest"]["properties"]["decoder"]["enum"]
            assert "run-time-greedy" in enum
            poem = client.post("/generate", json={"decoder": "run-time-greedy", "max_len": 8}).json()
            assert poem[0]["decoder"] == "run-time-greedy"
    finally:
        DECODERS.unregister("run-time-greedy")


def test_schemathesis_finds_nothing(server, tmp_path):
    """`st run …/openapi.json --checks all`, bounded (a fixed seed, at most 20 examples per operation and phase):
    every response documented, of the documented type and shape, schema-violating requests refused, no 5xx."""
    pytest.importorskip("schemathesis")
    command = [
        sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
        "--config-file", str(CONFIG), "run", server.url + "/openapi.json", "--checks", "all",
        "--max-examples", "20", "--seed", "23", "--workers", "1", "--generation-database", "none",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "30", "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout
