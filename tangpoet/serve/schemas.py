"""Request and response bodies of the HTTP API (pydantic models: FastAPI validates them and puts them in /openapi.json).

Types are checked here; values (ranges, names, characters) are checked by the library, so the API answers with the
same one-line messages as ``tangpoet write``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tangpoet.errors import DecoderOptionError

#: Poems one HTTP request may ask for (the library allows more; a server shares its batch among clients).
MAX_NUM = 16
#: Decoder options given as their own fields (as `tangpoet write` has them); a plugin's others go in ``options``.
DECODER_FIELDS = ("temperature", "top_k", "top_p", "beam_width", "length_penalty")


class ConstraintSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="a constraint name, as `tangpoet plugins` lists them (aliases resolve)")
    options: dict[str, Any] = Field(default_factory=dict, description="the constraint's options, e.g. {\"strict\": true}")


class GenerateRequest(BaseModel):
    """The options of ``tangpoet write``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"acrostic": "春夏秋冬", "form": "七言绝句", "seed": 7}]},
    )
    begin: str = Field("", description="text the poem starts with, e.g. 床前")
    acrostic: str = Field("", description="藏头诗: line i starts with character i")
    form: str | None = Field(None, description="五言绝句 七言绝句 五言律诗 七言律诗 (or 五绝 … wujue …)")
    decoder: str = Field("top-p", description="greedy, sample, top-k, top-p, beam, or a plugin's")
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    beam_width: int | None = None
    length_penalty: float | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="other options of a plugin decoder")
    no_repeat_ngram: int = Field(0, description="no n-gram of this size twice (0: off)")
    num: int = Field(1, description=f"poems to write (1 to {MAX_NUM}; greedy writes one)")
    max_len: int | None = Field(None, description="most characters per poem (default: the form's length, or 128)")
    seed: int | None = Field(None, description="random seed (default: a fresh one, returned with the poem)")
    constraints: list[str | ConstraintSpec] = Field(
        default_factory=list, description="constraint names (NAME or NAME:opt=val) or {name, options}"
    )
    keywords: list[str] | str = Field(default_factory=list, description="words the poem must contain (list or 秋月,故乡)")
    script: str | None = Field(None, description="simplified or traditional: the script of the poems (OpenCC)")
    exact: bool | None = Field(
        None,
        description="true: this request's model calls run alone, so its poems and scores are bit for bit those of "
        "`tangpoet write` with the same seed; false: fused with other requests' rows (faster under load; the same "
        "poems unless two choices are within ~1e-5). Default: the server's --batching.",
    )

    def write_kwargs(self, seed: int, supported: set[str]) -> dict[str, Any]:
        """Keyword arguments for :func:`tangpoet.writing.write` (``supported``: the parameters it takes)."""
        if isinstance(self.num, int) and self.num > MAX_NUM:
            raise DecoderOptionError(f"this server writes at most {MAX_NUM} poems per request, got {self.num}")
        options = {name: getattr(self, name) for name in DECODER_FIELDS if getattr(self, name) is not None}
        for name, value in self.options.items():
            key = name.replace("-", "_")
            if key in options:
                raise DecoderOptionError(f"decoder option {name!r} given twice")
            options[key] = value
        kwargs: dict[str, Any] = dict(
            begin=self.begin,
            acrostic=self.acrostic,
            form=self.form or None,
            decoder=self.decoder,
            num=self.num,
            max_len=self.max_len,
            seed=seed,
            no_repeat_ngram=self.no_repeat_ngram,
            **options,
        )
        keywords = self.keywords
        if isinstance(keywords, str):
            keywords = [k for k in keywords.replace("，", ",").split(",") if k.strip()]
        keywords = tuple(k.strip() for k in keywords)
        constraints = tuple(_constraint(item) for item in self.constraints)
        for label, value in (("constraints", constraints), ("keywords", keywords), ("script", self.script)):
            if value:
                if label not in supported:
                    raise DecoderOptionError(f"{label} are not supported by the installed tangpoet")
                kwargs[label] = value
        return kwargs


def _constraint(item: str | ConstraintSpec) -> tuple[str, dict[str, Any]]:
    if isinstance(item, ConstraintSpec):
        return (item.name, dict(item.options))
    try:
        from tangpoet.decoding.constraints import parse_spec
    except ImportError:  # an older library: names only
        return (item, {})
    return parse_spec(item)


class Poem(BaseModel):
    """One poem, as ``tangpoet write --json`` prints it."""

    poem: str
    lines: list[str]
    score: float
    finished: bool
    decoder: str
    seed: int
    backend: str
    model: str


class Final(Poem):
    """The last event of /generate_stream: the best poem's fields, why it ended, and every poem written."""

    finish_reason: str = Field(description="eos (it ended itself) or length (max_len cut it)")
    streamed: str = Field(description="chars (each character as chosen) or end (a search: the poem when it ended)")
    poems: list[Poem]


class Char(BaseModel):
    """One /generate_stream event per character, in order (``row``: which of ``num`` poems)."""

    index: int
    char: str
    logprob: float | None = Field(description="the model's log-probability of the character (null: given, not chosen)")
    row: int


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="a poem, e.g. 床前明月光，疑是地上霜。举头望明月，低头思故乡。")
    form: str | None = Field(None, description="the form to check against (default: detected from the shape)")


class ErrorBody(BaseModel):
    error: str
