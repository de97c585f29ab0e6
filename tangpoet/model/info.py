"""What a model file says about itself, read from its config without building the model or importing Keras.

``read_config`` checks that a file is a tangpoet model (clear errors for missing, damaged or foreign files);
``describe`` summarises it for ``tangpoet info``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

from tangpoet import limits
from tangpoet.errors import ModelFileError


WEIGHTS_MEMBER = "model.weights.h5"
MEMBERS = ("config.json", "metadata.json", WEIGHTS_MEMBER)  # what Keras writes for a PoemModel, and nothing else
# Keras' own layer arguments a PoemModel's config may hold, besides tangpoet's fields (its dtype policy is checked
# by name: a policy is a serialized object Keras would build, so a doctored one could load and then break every use).
DTYPE_POLICIES = ("float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16")
_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy")


def _member_limit(name: str) -> int:
    return limits.MAX_CONFIG_BYTES if name.endswith(".json") else limits.MAX_MEMBER_BYTES


def check_members(archive: zipfile.ZipFile, path: Path) -> dict[str, int]:
    """The archive's member sizes, after refusing an archive whose members (as their headers say, before anything
    is inflated) are more than a model file can hold: a small file must not inflate to gigabytes in memory.
    ``zipfile`` never reads a member past its declared size, so the declared sizes bound what reading costs."""
    infos = archive.infolist()
    if len(infos) > limits.MAX_MEMBERS:
        raise ModelFileError(f"{path} is not a .keras model file: it holds {len(infos):,} members")
    sizes = {}
    for info in infos:
        if info.filename not in MEMBERS:  # Keras would extract it (to memory or a temporary folder) unread
            raise ModelFileError(
                f"{path} is damaged or hostile: it holds {info.filename!r}, which is not part of a tangpoet model"
                f" file ({', '.join(MEMBERS)}); it was not read"
            )
        limit = _member_limit(info.filename)
        if info.file_size > limit:
            raise ModelFileError(
                f"{path} is damaged or hostile: its member {info.filename!r} inflates to {info.file_size:,} bytes,"
                f" more than a model file may hold ({limit:,}); it was not read"
            )
        sizes[info.filename] = info.file_size
    return sizes


def _open(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = check_members(archive, path)
            config = json.loads(archive.read("config.json"))
    except ModelFileError:
        raise
    except KeyError:
        raise ModelFileError(f"{path} is damaged or not a .keras model file (it has no config.json)") from None
    except RecursionError:
        raise ModelFileError(f"{path} is damaged or not a .keras model file (config.json nests too deeply)") from None
    except Exception as exc:  # an untrusted archive: bad zip, bad compression, encryption, bad JSON, I/O errors
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path} is damaged or not a .keras model file ({reason})") from None
    if not isinstance(config, dict) or config.get("class_name") != "PoemModel":
        raise ModelFileError(f"{path} is a Keras file but not a tangpoet model")
    inner = config.get("config")
    if not isinstance(inner, dict):
        raise ModelFileError(f"{path} is damaged: its config.json holds no model configuration")
    check_architecture(inner, path)
    return inner, sizes


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_architecture(config: dict[str, Any], path: Path) -> None:
    """The fields a model is built from have the right types and sane sizes (before Keras allocates anything)."""

    def bad(what: str):
        raise ModelFileError(f"{path} is damaged: {what}")

    vocabulary = config.get("vocabulary")
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
        bad("its vocabulary is not a list of characters")
    if not 4 <= len(vocabulary) <= limits.MAX_VOCABULARY:
        bad(f"its vocabulary has {len(vocabulary):,} entries")
    if not isinstance(config.get("cell", "lstm"), str):
        bad("its cell name is not a string")
    for key, high in (("num_layers", limits.MAX_LAYERS), ("units", limits.MAX_WIDTH), ("embedding_dim", limits.MAX_WIDTH)):
        value = config.get(key)
        if not _is_int(value) or not 1 <= value <= high:
            bad(f"{key} must be a whole number from 1 to {high:,}, got {value!r}")
    for key in ("dropout", "embedding_dropout"):
        value = config.get(key, 0.0)
        if not _is_number(value) or not 0.0 <= value < 1.0:
            bad(f"{key} must be a number in [0, 1), got {value!r}")
    if not isinstance(config.get("tie_embeddings", False), bool):
        bad("tie_embeddings is not true or false")
    for key in ("cell_options", "metadata"):
        if not isinstance(config.get(key) or {}, dict):
            bad(f"{key} is not an object")
    if not isinstance(config.get("cell_distribution") or "", str):
        bad("cell_distribution is not a string")
    check_keras_fields(config, bad)


def _policy_name(dtype) -> str | None:
    """The dtype policy's name in a config's ``dtype`` (a name, or Keras' serialized DTypePolicy), else None."""
    if isinstance(dtype, str):
        return dtype
    if (
        isinstance(dtype, dict)
        and set(dtype) <= {"module", "class_name", "config", "registered_name"}
        and dtype.get("module") == "keras"
        and dtype.get("class_name") in _POLICY_CLASSES
        and dtype.get("registered_name") is None
        and isinstance(dtype.get("config"), dict)
        and set(dtype["config"]) == {"name"}
    ):
        return dtype["config"]["name"]
    return None


def _keras_object(value, depth: int = 0) -> bool:
    """A cell option's value: plain JSON data, or Keras' own serialized object (an initializer, a regularizer) —
    never a lambda, a wrapped framework module or another package's class."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if depth > 8:
        return False
    if isinstance(value, list):
        return all(_keras_object(v, depth + 1) for v in value)
    if not isinstance(value, dict):
        return False
    if "class_name" in value or "module" in value:
        module, name = value.get("module"), value.get("class_name")
        if not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
            return False
        if not isinstance(name, str) or name.startswith("__") or "Wrapper" in name or name == "Lambda":
            return False
    return all(isinstance(k, str) and _keras_object(v, depth + 1) for k, v in value.items())


def check_keras_fields(config: dict[str, Any], bad) -> None:
    """The config's Keras fields (name, trainable, dtype, …): what Keras builds from them is only what tangpoet
    writes — a doctored ``dtype`` (a ``__lambda__``, a TorchModuleWrapper) would load, then fail at every use."""
    dtype = config.get("dtype")
    if dtype is not None and _policy_name(dtype) not in DTYPE_POLICIES:
        bad(f"its dtype is not a dtype policy ({', '.join(DTYPE_POLICIES)})")
    if not isinstance(config.get("name", ""), str) or not isinstance(config.get("trainable", True), bool):
        bad("its name or trainable field has the wrong type")
    for key in ("activity_regularizer", "input_shape", "batch_input_shape", "input_dim", "batch_size", "weights"):
        if config.get(key) is not None:
            bad(f"its config sets {key!r}, which a tangpoet model never has")
    if not _keras_object(config.get("cell_options") or {}):
        bad("its cell_options hold something other than plain values and Keras' own objects")


def minimum_weights(config: dict[str, Any]) -> int:
    """Weights the architecture certainly has: exact for the built-in cells; for a plugin cell the embedding, the
    output layer and one ``features × units`` matrix per layer (every cell maps its input to ``units``)."""
    vocab = len(config["vocabulary"])
    units, width, layers = config["units"], config["embedding_dim"], config["num_layers"]
    tied = config.get("tie_embeddings", False)
    exact = parameter_count(config.get("cell", "lstm"), layers, units, width, vocab, tied)
    if exact is not None:
        return exact
    head = vocab if tied else units * vocab
    return vocab * width + head + width * units + (layers - 1) * units * units


def read_config(path: str | os.PathLike, *, training_state: bool = False) -> dict[str, Any]:
    """The model's config (architecture, vocabulary, metadata) read from the file without building the model.

    Everything about the file is checked first, as untrusted input: it is a file (not a folder), a zip archive whose
    members are not larger than a model file may hold, holding a tangpoet config whose architecture fields have the
    right types and sane sizes, and whose weights member is large enough for that architecture (so a doctored
    config cannot make Keras allocate gigabytes). Each problem is a one-line :class:`ModelFileError`.
    """
    path = Path(path)
    config, sizes = _open(path)
    needed = minimum_weights(config)  # stored as at least one byte each, whatever the dtype
    held = sizes.get(WEIGHTS_MEMBER, 0)
    if needed > held + 2**20:
        raise ModelFileError(
            f"{path} is damaged: its architecture needs {needed:,} weights, but its weights member holds {held:,} bytes"
        )
    most = maximum_weights_bytes(config, training_state=training_state)
    if held > most:  # checked before anything is inflated: Keras would read it all (gigabytes from a small file)
        raise ModelFileError(
            f"{path} is damaged or hostile: its weights member inflates to {held:,} bytes, more than its architecture"
            f" can hold ({most:,}); it was not read"
        )
    return config


def maximum_weights_bytes(config: dict[str, Any], *, training_state: bool = False) -> int:
    """The most bytes the weights member of ``config``'s architecture can hold: its weights (exact for a built-in
    cell; :data:`~tangpoet.limits.PLUGIN_CELL_WEIGHTS` times the least for a plugin cell) in float64, plus HDF5's
    structure; ``training_state`` (the model inside a checkpoint): its optimizer's variables too, at most
    :data:`~tangpoet.limits.MAX_OPTIMIZER_FACTOR` times the weights."""
    vocab = len(config["vocabulary"])
    cell, layers = config.get("cell", "lstm"), config["num_layers"]
    exact = parameter_count(cell, layers, config["units"], config["embedding_dim"], vocab, config.get("tie_embeddings", False))
    weights = exact if exact is not None else limits.PLUGIN_CELL_WEIGHTS * minimum_weights(config)
    if training_state:
        weights *= 1 + limits.MAX_OPTIMIZER_FACTOR
    return weights * limits.WEIGHTS_BYTES_PER_PARAMETER + limits.WEIGHTS_OVERHEAD_BYTES + 64 * 2**10 * layers


def parameter_count(
    cell: str, num_layers: int, units: int, embedding_dim: int, vocab_size: int, tie_embeddings: bool = False
) -> int | None:
    """Weights of a built-in architecture (``None`` for plugin cells, whose sizes tangpoet cannot know)."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}.get(cell)
    if gates is None:
        return None
    if tie_embeddings:  # the output layer reuses the embedding matrix, through a projection if the widths differ
        head = (units * embedding_dim if units != embedding_dim else 0) + vocab_size
    else:
        head = units * vocab_size + vocab_size
    total = vocab_size * embedding_dim + head
    features = embedding_dim
    for _ in range(num_layers):
        bias = 2 * gates * units if cell == "gru" else gates * units  # Keras GRU: reset_after, two biases
        total += gates * units * (features + units) + bias
        features = units
    return total


def _field(d, key: str, check, default=None):
    """``d[key]`` if ``d`` is a dict and the value passes ``check``, else ``default`` (metadata is free-form: a
    value of the wrong type in an old or doctored file is shown as absent, never a crash)."""
    value = d.get(key) if isinstance(d, dict) else None
    return value if value is not None and check(value) else default


def _corpus(value) -> dict[str, Any] | None:
    from tangpoet.data.corpus import CorpusReport
    from tangpoet.errors import CorpusError

    try:
        return CorpusReport.from_dict(value).to_dict() if value is not None else None
    except CorpusError:
        return None


def model_script(config: dict[str, Any]) -> tuple[str, str]:
    """``(script, source)``: the script the model's corpus was in as recorded at training (``"recorded"``), else as
    detected from the vocabulary (``"detected"``; ``"unknown"`` without OpenCC)."""
    from tangpoet.data import script as scripts

    meta = _field(config, "metadata", lambda v: isinstance(v, dict), {})
    recorded = _field(_field(meta, "corpus", lambda v: isinstance(v, dict), {}), "script", lambda v: isinstance(v, str))
    if recorded in scripts.SCRIPTS:
        return recorded, "recorded"
    vocabulary = _field(config, "vocabulary", lambda v: isinstance(v, list), [])
    return scripts.detect(t for t in vocabulary if isinstance(t, str)), "detected"


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """A summary of the model in ``path``: architecture, vocabulary, training corpus, held-out NLL, versions."""
    path = Path(path)
    config = read_config(path)
    is_dict, is_str = (lambda v: isinstance(v, dict)), (lambda v: isinstance(v, str))
    meta = _field(config, "metadata", is_dict, {})
    training = _field(meta, "training", is_dict, {})
    vocab_size = len(config["vocabulary"])
    tied = bool(config.get("tie_embeddings", False))  # absent in files written before tying existed
    history = _field(training, "history", lambda v: isinstance(v, list), [])
    split = _field(meta, "split", is_dict)
    if split is not None:
        split = {key: split[key] for key in ("train_poems", "val_poems", "seed") if _is_int(split.get(key))}
    script, script_source = model_script(config)
    titles = _titles(meta.get("titles"))
    return {
        **({"titles": titles} if titles else {}),  # only a title-aware file: older files describe as before
        "model": str(path),
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "cell": config.get("cell", "lstm"),
        "cell_distribution": config.get("cell_distribution"),
        "num_layers": config["num_layers"],
        "units": config["units"],
        "embedding_dim": config["embedding_dim"],
        "dropout": config.get("dropout", 0.0),
        "embedding_dropout": config.get("embedding_dropout", 0.0),
        "tie_embeddings": tied,
        "vocab_size": vocab_size,
        "parameters": parameter_count(
            config.get("cell", "lstm"), config["num_layers"], config["units"], config["embedding_dim"], vocab_size, tied
        ),
        "script": script,
        "script_source": script_source,
        "corpus": _corpus(meta.get("corpus")),
        "split": split,
        "hyperparameters": _field(meta, "hyperparameters", is_dict),
        "val_nll": _field(training, "val_nll", _is_number),
        "val_perplexity": _field(training, "val_perplexity", _is_number),
        "epochs": _field(training, "epochs", _is_int),
        "best_epoch": _field(training, "best_epoch", _is_int),
        "training_seconds": _field(training, "seconds", _is_number),
        "precision": _field(training, "precision", is_str),  # fit --precision: what training computed in
        "val_nll_per_epoch": [round(r["val_nll"], 4) for r in history if _field(r, "val_nll", _is_number) is not None],
        "lineage": _lineage(meta.get("lineage")),
        "backend": _field(meta, "backend", is_str),
        "tangpoet_version": _field(meta, "tangpoet_version", is_str),
        "keras_version": _field(meta, "keras_version", is_str),
    }


_STAGE_FIELDS = {  # lineage stage field -> what its value must be (a model file is untrusted input)
    "corpus_files": lambda v: isinstance(v, list) and all(isinstance(f, str) for f in v),
    "corpus_poems": lambda v: _is_int(v),
    "corpus_fingerprint": lambda v: isinstance(v, str),
    "script": lambda v: isinstance(v, str),
    "epochs": lambda v: _is_int(v),
    "val_nll": lambda v: _is_number(v),
    "file": lambda v: isinstance(v, str),
    "file_fingerprint": lambda v: isinstance(v, str),
    "from": lambda v: isinstance(v, dict) and all(isinstance(v.get(k), str) for k in ("file", "fingerprint")),
}


def _titles(value) -> dict[str, Any] | None:
    """A title-aware model's record of its titles (:func:`tangpoet.data.titles.model_record`), well-typed fields only."""
    from tangpoet.data.titles import FORMAT

    if not isinstance(value, dict) or value.get("format") != FORMAT:
        return None
    kept = {"format": FORMAT}
    for key, check in (("title_start", lambda v: isinstance(v, str)), ("untitled_fraction", _is_number),
                       ("titled_poems", _is_int), ("max_length", _is_int)):
        if check(value.get(key)):
            kept[key] = value[key]
    return kept


def _lineage(stages) -> list[dict[str, Any]]:
    """The model's training stages (``fit --from`` records them), each with only well-typed known fields."""
    if not isinstance(stages, list):
        return []
    kept = []
    for stage in stages[:100]:
        if isinstance(stage, dict):
            kept.append({k: v for k, v in stage.items() if k in _STAGE_FIELDS and v is not None and _STAGE_FIELDS[k](v)})
    return kept


def _printable(text: str) -> str:
    """``text`` with control characters escaped: strings from a model file never drive the terminal."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def format_info(info: dict[str, Any]) -> str:
    """``describe``'s summary as a few readable lines."""
    lines = [f"model      {info['model']} ({info['file_mb']} MB)"]
    arch = (
        f"{info['num_layers']} × {info['units']} {info['cell']}"
        + (f" (from {info['cell_distribution']})" if info.get("cell_distribution") not in (None, "tangpoet") else "")
        + f", embedding {info['embedding_dim']}"
        + (" (tied to the output layer)" if info.get("tie_embeddings") else "")
        + f", dropout {info['dropout']}"
        + (f", embedding dropout {info['embedding_dropout']}" if info.get("embedding_dropout") else "")
    )
    lines.append(f"cell       {arch}")
    params = f" · {info['parameters']:,} parameters" if info.get("parameters") else ""
    lines.append(f"vocabulary {info['vocab_size']:,} tokens{params}")
    if info.get("script"):
        how = " (detected from the vocabulary)" if info.get("script_source") == "detected" else ""
        lines.append(f"script     {info['script']}{how}")
    corpus = info.get("corpus")
    if corpus:
        dropped = ", ".join(f"{n} {reason}" for reason, n in (corpus.get("dropped") or {}).items()) or "none"
        files = ", ".join(Path(f).name for f in corpus.get("files") or [])
        lines.append(
            f"corpus     {files}: read {corpus.get('read', 0):,} poems, kept {corpus.get('kept', 0):,}"
            f" ({corpus.get('characters', 0):,} characters); dropped: {dropped}"
        )
    split = info.get("split")
    if split:
        lines.append(f"split      {split.get('train_poems', 0):,} training / {split.get('val_poems', 0):,} held-out poems (seed {split.get('seed')})")
    if info.get("val_nll") is not None:
        lines.append(
            f"held-out   NLL {info['val_nll']:.4f} nats/char"
            + (f" · perplexity {info['val_perplexity']:.1f}" if info.get("val_perplexity") is not None else "")
            + f" · best epoch {info['best_epoch']} of {info['epochs']}"
            + (f" · {info['training_seconds'] / 60:.0f} min training" if info.get("training_seconds") else "")
        )
    titles = info.get("titles")
    if titles:
        untitled = titles.get("untitled_fraction")
        lines.append(
            f"titles     title-aware ({titles['format']}: {titles.get('title_start', '<eos>')} title <bos> poem"
            + (f"; {titles['titled_poems']:,} titled poems" if titles.get("titled_poems") is not None else "")
            + (f", {untitled:.0%} of them trained untitled" if untitled is not None else "")
            + ")"
        )
    if info.get("val_nll_per_epoch"):
        lines.append("curve      " + " ".join(f"{v:.2f}" for v in info["val_nll_per_epoch"]))
    hp = info.get("hyperparameters") or {}
    if hp:
        keys = ("optimizer", "lr", "lr_decay", "batch_size", "steps_per_epoch", "clip_norm", "min_count", "seed")
        shown = [f"{k} {hp[k]}" for k in keys if k in hp] + ([f"ema {hp['ema']}"] if hp.get("ema") else [])
        if info.get("precision") in ("bf16", "fp32"):  # the file itself loads and writes in float32 either way
            shown.append(f"precision {info['precision']}")
        lines.append("training   " + ", ".join(shown))
    if len(info.get("lineage") or []) > 1:  # a fine-tuned model: every stage, the base files named
        stages = describe_lineage(info["lineage"])
        lines.append("lineage    " + stages[0])
        lines.extend("           " + stage for stage in stages[1:])
    lines.append(
        f"versions   tangpoet {info.get('tangpoet_version')} · keras {info.get('keras_version')} · trained on {info.get('backend')}"
    )
    return _printable("\n".join(lines))


def describe_lineage(stages: list[dict[str, Any]]) -> list[str]:
    """One line per training stage of a model file's lineage (written by :mod:`tangpoet.training.finetune`), for
    ``tangpoet info``."""
    from tangpoet.data.corpus import describe_files

    lines = []
    for number, stage in enumerate(stages, 1):
        files = describe_files(stage.get("corpus_files") or []) or "?"
        epochs = stage.get("epochs")
        text = f"{number}. {stage.get('corpus_poems') or '?'} poems ({files}), {epochs or '?'} epoch{'' if epochs == 1 else 's'}"
        if stage.get("val_nll") is not None:
            text += f", validation NLL {stage['val_nll']:.4f}"
        if stage.get("from"):
            text += f", from {stage['from'].get('file')} ({stage['from'].get('fingerprint')})"
        if stage.get("file"):
            text += f" → {stage['file']} ({stage.get('file_fingerprint')})"
        lines.append(text)
    return lines
