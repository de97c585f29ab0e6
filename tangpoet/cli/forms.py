"""``tangpoet forms``: the forms a poem can be written to — shi forms and ci tunes (词牌) with their variants."""

from __future__ import annotations

import json

import click

from tangpoet.cli.group import main


def _complete_tune(ctx, param, incomplete: str) -> list[str]:
    from tangpoet.decoding.forms import form_names

    return [name for name in form_names() if name.startswith(incomplete)]


def _variant_dict(form) -> dict:
    from tangpoet.decoding.forms import find_tune

    tune = find_tune(form.name)
    return {
        "variant": form.variant, "lengths": list(form.lengths), "marks": form.marks, "count": form.count,
        "kind": form.kind, "tones": list(form.tones), "stanza_break": form.stanza_break,
        "rhymes": [{"verses": list(verses), "tone": tone} for verses, tone in form.rhymes],
        "example": tune.example(form.variant) if tune is not None else {},
    }


def _tune_rows(as_json: bool):
    from tangpoet.decoding.forms import FORMS, tunes

    shi = [{"kind": "shi", "name": f.name, "aliases": list(f.aliases), "lines": f.lines, "chars": f.chars, "variants": 1}
           for f in FORMS]
    ci = [{"kind": "ci", "name": t.name, "aliases": list(t.aliases), "count": t.count, "variants": len(t.variants),
           "rhyme": t.variants[0].kind, "lengths": list(t.variants[0].lengths)} for t in tunes()]
    return shi, ci


@main.command()
@click.argument("name", required=False, shell_complete=_complete_tune)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the list, or the tune's variants).")
def forms(name, as_json):
    """The forms to write to (--form): shi forms, and ci tunes (词牌) with their variants (又一体) mined from 全宋词.
    With a NAME: that form, and for a tune each variant's shape, tone pattern (平/仄/中), rhymes and an example."""
    from tangpoet.decoding.forms import get_form

    if name is None:
        shi, ci = _tune_rows(as_json)
        if as_json:
            click.echo(json.dumps(shi + ci, ensure_ascii=False))
            return
        click.echo(f"shi ({len(shi)} forms)")
        for row in shi:
            click.echo(f"  {row['name']}  {row['lines']} × {row['chars']}  ({', '.join(row['aliases'])})")
        click.echo("")
        click.echo(f"ci ({len(ci)} tunes, mined from 全宋词: Song ci, variants, main rhyme; `tangpoet forms TUNE` for one)")
        for row in ci:
            click.echo(f"  {row['name']:　<6} {row['count']:>4} ci  {row['variants']} variant{'s' if row['variants'] != 1 else ' '}"
                       f"  {row['rhyme'] or '—':　<4} {sum(row['lengths'])} 字")
        return
    form = get_form(name)
    if not form.is_ci:
        row = {"kind": "shi", "name": form.name, "aliases": list(form.aliases), "lines": form.lines, "chars": form.chars}
        click.echo(json.dumps(row, ensure_ascii=False) if as_json else
                   f"{form.name}: {form.lines} verses of {form.chars} characters ({', '.join(form.aliases)})")
        return
    from tangpoet.decoding.forms import find_tune

    tune = find_tune(form.name)
    variants = [_variant_dict(v) for v in tune.variants]
    if as_json:
        click.echo(json.dumps({"kind": "ci", "name": tune.name, "aliases": list(tune.aliases), "count": tune.count,
                               "variants": variants}, ensure_ascii=False))
        return
    also = f"; also {'、'.join(tune.aliases)}" if tune.aliases else ""
    click.echo(f"{tune.name} ({tune.count} Song ci{also})")
    for v in variants:
        click.echo("")
        brk = f", stanza break before verse {v['stanza_break'] + 1}" if v["stanza_break"] is not None else ""
        click.echo(f"variant {v['variant']} (--variant {v['variant']}): {v['count']} ci, {sum(v['lengths'])} characters "
                   f"in {len(v['lengths'])} verses, {v['kind'] or '—'}{brk}")
        rhyming = {i: k for k, r in enumerate(v["rhymes"]) for i in r["verses"]}
        for i, pattern in enumerate(v["tones"]):
            if v["stanza_break"] is not None and i == v["stanza_break"]:
                click.echo("    ——")
            mark = v["marks"][i] if i < len(v["marks"]) else "。"
            rhyme = f"  韵{'ABCDEFGH'[rhyming[i]] if len(v['rhymes']) > 1 else ''}" if i in rhyming else ""
            click.echo(f"    {pattern}{mark}{rhyme}")
        example = v.get("example") or {}
        if example:
            click.echo(f"  e.g. {example.get('author', '')}: {example.get('text', '')}")
