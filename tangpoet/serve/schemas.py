"""Request and response bodies of the HTTP API (pydantic models: FastAPI validates them and puts them in /openapi.json).

Types are strict (``"exact": 0`` is not a boolean, ``"seed": 1.5`` not a whole number): a wrong type is a 422.
Values — ranges, names, characters — are checked by the library, so the API answers with the same one-line messages
as ``tangpoet write`` (400), in the API's own words; the schema states the same bounds and names, so it says what the
server accepts. :func:`generate_request` builds the request model once at start-up: the ``decoder`` and ``form``
enums come from the decoder registry and the forms table, the decoder options' fields from the one option table
(:data:`tangpoet.limits.DECODER_OPTIONS`), and which decoder takes which option from the decoder classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tangpoet.limits import (
    DECODER_OPTIONS,
    MAX_ACROSTIC_LENGTH,
    MAX_BEGIN_LENGTH,
    MAX_CHECK_CHARS,
    MAX_CONSTRAINTS,
    MAX_HTTP_CANDIDATES,
    MAX_HTTP_POEMS,
    MAX_NO_REPEAT_NGRAM,
    MAX_POEM_LENGTH,
    MAX_SEED,
    MAX_THEME_LENGTH,
    DecoderOption,
)
from tangpoet.data.titles import MAX_TITLE_LENGTH

StrictFloat = Annotated[float, Strict()]  # a JSON number (an integer too), never a string or a boolean


def _integral(value: Any) -> Any:
    return int(value) if type(value) is float and value.is_integer() else value


#: A whole number as JSON Schema's ``integer`` has it: ``5`` or ``5.0`` (never ``5.5``, ``"5"`` or ``true``).
WholeNumber = Annotated[int, BeforeValidator(_integral), Strict()]
DEFAULT_DECODER = "top-p"
class ApiError(Exception):
    """Raised by an endpoint (or a dependency) for a client's error: answered as ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


SURROGATE = "surrogate"  # the error type of a lone surrogate (the validation handler answers 400)


def find_surrogate(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first lone surrogate (``"\\ud800"`` in JSON: not a character) in a parsed JSON value, keys included:
    ``(where, the surrogate)``, or None."""
    if isinstance(value, str):
        for char in value:
            if 0xD800 <= ord(char) <= 0xDFFF:
                return path or "body", char
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = find_surrogate(key, path) or find_surrogate(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = find_surrogate(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


class Body(BaseModel):
    """A request body: an object of known fields only, with no lone surrogate anywhere in it."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        found = find_surrogate(data)
        if found is not None:
            where, char = found
            raise PydanticCustomError(
                SURROGATE, "{where} holds a lone surrogate ({code}), which is not a character",
                {"where": where, "code": f"\\u{ord(char):04x}"},
            )
        return data


class ConstraintSpec(Body):
    name: StrictStr = Field(description="a constraint name, as `tangpoet plugins` lists them (aliases resolve)")
    options: dict[StrictStr, Any] = Field(
        default_factory=dict, description="the constraint's options, e.g. {\"strict\": true}"
    )


def _option_field(option: DecoderOption) -> tuple[Any, Any]:
    bounds: dict[str, Any] = {"maximum": option.high}
    bounds["exclusiveMinimum" if option.above_low else "minimum"] = option.low
    kind = WholeNumber if option.kind is int else StrictFloat
    description = f"{option.help} (default {option.default:g})"
    return (kind | None, Field(None, description=description, json_schema_extra=bounds))


class GenerateRequest(Body):
    """The options of ``tangpoet write`` (the decoder options' fields are added from the option table)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"acrostic": "春夏秋冬", "form": "七言绝句", "seed": 7}]})
    begin: StrictStr = Field(
        "", description="text the poem starts with, e.g. 床前", json_schema_extra={"maxLength": MAX_BEGIN_LENGTH}
    )
    acrostic: StrictStr = Field(
        "", description="藏头诗: line i starts with character i", json_schema_extra={"maxLength": MAX_ACROSTIC_LENGTH}
    )
    form: StrictStr | None = Field(
        None, description="a shi form (五言绝句 七言绝句 五言律诗 七言律诗, or 五绝 … wujue …) or a ci tune (浣溪沙 …, "
        "`/info` lists them under `tunes`), by its name, another of its names (浣溪纱) or its traditional spelling "
        "(菩薩蠻): the enum lists them all, the names as `tangpoet write --form` takes them; none: free verse",
    )
    decoder: StrictStr = Field(DEFAULT_DECODER, description="greedy, sample, top-k, top-p, beam, or a plugin's")
    options: dict[StrictStr, Any] = Field(
        default_factory=dict, description="a plugin decoder's options that have no field of their own"
    )
    no_repeat_ngram: WholeNumber = Field(
        0, description="no n-gram of this size twice (0: off)", json_schema_extra={"minimum": 0, "maximum": MAX_NO_REPEAT_NGRAM}
    )
    num: WholeNumber = Field(
        1, description="poems to write (greedy writes one)", json_schema_extra={"minimum": 1, "maximum": MAX_HTTP_POEMS}
    )
    variant: WholeNumber | None = Field(
        None, description="with a ci tune as the form: its shape (又一体), 1 = the commonest (default); `/info` "
        "lists each tune's variants", json_schema_extra={"minimum": 1, "maximum": 99},
    )
    max_len: WholeNumber | None = Field(
        None, description="most characters per poem (default: the form's length, or 128)",
        json_schema_extra={"minimum": 1, "maximum": MAX_POEM_LENGTH},
    )
    seed: WholeNumber | None = Field(
        None, description="random seed (default: a fresh one, returned with the poem)",
        json_schema_extra={"minimum": 0, "maximum": MAX_SEED},
    )
    constraints: list[StrictStr | ConstraintSpec] = Field(
        default_factory=list, description="constraint names (NAME or NAME:opt=val) or {name, options}",
        json_schema_extra={"maxItems": MAX_CONSTRAINTS},
    )
    keywords: list[StrictStr] | StrictStr = Field(
        default_factory=list, description="words the poem must contain (a list, or 秋月,故乡)"
    )
    script: StrictStr | None = Field(
        None, description="the script of the poems (OpenCC)", json_schema_extra={"enum": ["simplified", "traditional", None]}
    )
    candidates: WholeNumber | None = Field(
        None, description="best-of-N: write this many candidates as one batch and return the `num` best by `scorer`",
        json_schema_extra={"minimum": 1, "maximum": MAX_HTTP_CANDIDATES},
    )
    scorer: StrictStr | None = Field(
        None, description="what ranks the candidates: coherence (default), likelihood or a plugin's (`tangpoet plugins`)"
    )
    theme: StrictStr | None = Field(
        None, description="a theme, e.g. 秋思: one keyword per line from corpus statistics (each poem's `plan`)",
        json_schema_extra={"maxLength": MAX_THEME_LENGTH},
    )
    title: StrictStr | None = Field(
        None, description="a title-aware model: the title (题) the poem is written to, e.g. 送友人, or `auto` (the model "
        "writes one first); each poem's `title`", json_schema_extra={"maxLength": 4 * MAX_TITLE_LENGTH},
    )
    title_guidance: StrictFloat | None = Field(
        None, description="with a title: weigh it this many times as much as the model does (classifier-free "
        "guidance, 1 to 8; 1 or null: none); the poem is sent when written, not character by character",
        json_schema_extra={"minimum": 1, "maximum": 8},
    )
    template: StrictStr | None = Field(
        None, description="fill in the blanks: fixed characters at any positions, the rest written (□ _ ＿ * ＊ ○ mark "
        "a blank), e.g. □□明月□，□□□□□。□□□□□，□□□□□。; its shape gives the form when none is given",
        json_schema_extra={"maxLength": MAX_POEM_LENGTH},
    )
    acrostic_at: StrictStr | WholeNumber | None = Field(
        None, description="where the acrostic's characters go: start (藏头, default), end (藏尾) or a column from 1 (藏中)",
    )
    exact: StrictBool | None = Field(
        None,
        description="true: this request's model calls run alone, so its poems and scores are bit for bit those of "
        "`tangpoet write` with the same seed; false: fused with other requests' rows (faster under load; the same "
        "poems unless two choices are within ~1e-5). Default: the server's --batching.",
    )

    #: The form names this server's schema enumerates (set by :func:`generate_request`): only those are taken.
    form_names: ClassVar[tuple[str, ...]] = ()

    def check_form(self) -> None:
        """A form name outside the schema's enum is refused: an unknown one in the library's words (close names
        offered), one the library would read otherwise spelled (``WUJUE``) with the spelling to send."""
        import difflib

        from tangpoet.decoding.forms import get_form
        from tangpoet.errors import UnknownNameError

        if self.form is None or not self.form_names or self.form in self.form_names:
            return
        try:
            form = get_form(self.form)
        except UnknownNameError as exc:
            raise ApiError(400, str(exc)) from None
        same = {name.lower(): name for name in self.form_names if get_form(name).name == form.name}
        close = difflib.get_close_matches(self.form.lower(), list(same), n=1, cutoff=0.5)
        spelled = same[close[0]] if close else form.name
        raise ApiError(400, f"form {self.form!r} is not a name this server takes as written: send {spelled!r} (the "
                            "schema's enum of form lists every name, alias and traditional spelling)")

    def decoder_options(self) -> dict[str, Any]:
        """The decoder options given: their own fields, then ``options`` (a plugin decoder's others)."""

        given = {name: getattr(self, name) for name in DECODER_OPTIONS if getattr(self, name) is not None}
        for key, value in self.options.items():
            if key in type(self).model_fields:
                raise ApiError(400, f"options.{key}: {key} is a field of its own; give it outside options")
            given[key] = value
        if any(value is None for value in self.options.values()):  # the library drops a null: name it here
            from tangpoet.registry import DECODERS

            takes = tuple(getattr(DECODERS.get(self.decoder), "options", ()) or ())
            unknown = [key for key in self.options if key not in takes]
            if unknown:
                offered = ", ".join(takes) if takes else "no options"
                raise ApiError(400, f"options.{unknown[0]}: decoder {self.decoder!r} does not take {unknown[0]} (it takes {offered})")
        return given

    def write_kwargs(self, seed: int) -> dict[str, Any]:
        """Keyword arguments for :func:`tangpoet.writing.write`."""

        if not 1 <= self.num <= MAX_HTTP_POEMS:  # the server's own bound (1-16), not the library's 1-1,000
            raise ApiError(400, f"this server writes at most {MAX_HTTP_POEMS} poems per request (num from 1 to {MAX_HTTP_POEMS}), got {self.num}")
        if self.candidates is not None and self.candidates > MAX_HTTP_CANDIDATES:
            raise ApiError(400, f"this server writes at most {MAX_HTTP_CANDIDATES} candidates per request, got {self.candidates}")
        self.check_form()
        keywords = self.keywords
        return dict(
            begin=self.begin,
            acrostic=self.acrostic,
            form=self.form,
            **({"variant": self.variant} if self.variant is not None else {}),
            decoder=self.decoder,
            num=self.num,
            max_len=self.max_len,
            seed=seed,
            no_repeat_ngram=self.no_repeat_ngram,
            constraints=tuple((c.name, dict(c.options)) if isinstance(c, ConstraintSpec) else c for c in self.constraints),
            keywords=keywords if isinstance(keywords, str) else tuple(keywords),
            script=self.script,
            candidates=self.candidates,
            scorer=self.scorer,
            theme=self.theme,
            **({"title": self.title} if self.title else {}),
            **({"title_guidance": self.title_guidance} if self.title_guidance is not None else {}),
            **({"template": self.template} if self.template else {}),
            **({"acrostic_at": self.acrostic_at} if self.acrostic_at is not None else {}),
            **self.decoder_options(),
        )


def generate_request(decoders: Mapping[str, Sequence[str]], forms: Sequence[str]) -> type[GenerateRequest]:
    """The request model of this server: ``decoders`` maps each decoder offered to the options it takes (its class's
    ``options``), ``forms`` lists every form name and alias. The schema enumerates both and says, per decoder, which
    option fields it takes (the others must be absent or null) and which names ``options`` may hold."""
    fields = {name: _option_field(option) for name, option in DECODER_OPTIONS.items()}
    names = list(decoders)
    forms = list(forms)

    def schema(s: dict[str, Any]) -> None:
        props = s["properties"]
        props["decoder"]["enum"] = names
        props["form"]["anyOf"][0]["enum"] = forms
        props["options"]["propertyNames"] = {"not": {"enum": sorted(GenerateRequest.model_fields) + list(DECODER_OPTIONS)}}
        rules = []
        for name, takes in decoders.items():
            absent = {option: {"type": "null"} for option in DECODER_OPTIONS if option not in takes}
            others = [option for option in takes if option not in DECODER_OPTIONS]
            absent["options"] = {"propertyNames": {"enum": others}} if others else {"maxProperties": 0}
            chosen: dict[str, Any] = {"properties": {"decoder": {"const": name}}, "required": ["decoder"]}
            if name == DEFAULT_DECODER:
                chosen = {"anyOf": [chosen, {"not": {"required": ["decoder"]}}]}
            rules.append({"if": chosen, "then": {"properties": absent}})
        s["allOf"] = rules
        s["examples"] = GenerateRequest.model_config["json_schema_extra"]["examples"]

    model = create_model("GenerateRequest", __base__=GenerateRequest, **fields)
    model.model_config["json_schema_extra"] = schema
    model.form_names = tuple(forms)
    return model


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
    plan: list[str] | None = Field(None, description="with a theme: the keyword placed in each line")
    title: str | None = Field(None, description="with a title: the title it was written to (the model's own with `auto`)")
    stanza_break: int | None = Field(
        None, description="a ci of two stanzas (阕): the index in `lines` of the second stanza's first verse"
    )


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


class CheckRequest(Body):
    text: StrictStr = Field(
        description="one poem (title:content or bare text), e.g. 床前明月光，疑是地上霜。举头望明月，低头思故乡。",
        json_schema_extra={"maxLength": MAX_CHECK_CHARS},
    )
    form: StrictStr | None = Field(None, description="the form to check against (default: the one its shape matches)")
    constraints: list[StrictStr | ConstraintSpec] = Field(
        default_factory=list,
        description="what to check besides the form (as `tangpoet check --constraint`); default: regulated, when installed",
        json_schema_extra={"maxItems": MAX_CONSTRAINTS},
    )

    suggest: WholeNumber | None = Field(
        None,
        description="for each broken rule, this many replacements that mend it and break nothing else, ranked by the "
        "model's likelihood of the whole poem (`tangpoet check --suggest K`); null: none",
        json_schema_extra={"minimum": 1, "maximum": 20},
    )

    def specs(self) -> list[Any]:
        return [(c.name, dict(c.options)) if isinstance(c, ConstraintSpec) else c for c in self.constraints]


class Line(BaseModel):
    text: str
    chars: list[str]
    tones: list[str | None] | None = Field(description="平, 仄, 平仄 (either reading) or ? per character, or null")
    rhyme: str | None
    pattern: str | None


class Violation(BaseModel):
    rule: str
    line: int | None
    col: int | None
    message: str


class Pair(BaseModel):
    col: int = Field(description="0-based position in the line")
    first: str
    second: str
    score: float | None = Field(description="the pairing table's score (nats; null: a character it does not know)")
    paired: bool


class Couplet(BaseModel):
    """A couplet that must be parallel (对仗: a 律诗's lines 3–4 and 5–6), position by position."""

    lines: list[int] = Field(description="the two lines, 1-based")
    paired: int
    positions: int
    share: float
    pairs: list[Pair]


class Repeat(BaseModel):
    """重字: a character written more than once other than as 叠字."""

    char: str
    places: list[list[int]] = Field(description="[line, char], 1-based, per occurrence")


class Change(BaseModel):
    line: int = Field(description="0-based verse")
    col: int = Field(description="0-based position in the verse")
    was: str
    char: str


class SuggestionOption(BaseModel):
    """One replacement offered (its first change's place and characters, and every change: a pair has two)."""

    line: int
    col: int
    was: str
    char: str
    changes: list[Change]
    delta: float = Field(description="the gain in the whole poem's log-probability (nats)")
    mends: list[str] = Field(description="every rule it mends")


class Suggestion(BaseModel):
    """The suggestions for one broken rule (``note``: why no single character mends it, when none does)."""

    rule: str
    line: int
    col: int
    message: str
    options: list[SuggestionOption]
    note: str | None


class CheckResult(BaseModel):
    """What ``tangpoet check --json`` prints for one poem."""

    title: str | None
    poem: str
    original: str
    form: str | None
    passed: bool = Field(alias="pass")
    constraints: list[str]
    lines: list[Line]
    pattern_name: str | None
    violations: list[Violation]
    couplets: list[Couplet] = Field(default_factory=list, description="对仗 of the couplets that must be parallel")
    chongzi: list[Repeat] = Field(default_factory=list, description="重字 of a 绝句 or 律诗")
    suggestions: list[Suggestion] | None = Field(None, description="with suggest: per broken rule at a character")


class ErrorBody(BaseModel):
    error: str
