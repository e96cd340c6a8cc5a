"""docs/recipe.md: every recipe key, from the core's config dataclasses and every built-in
component's options dataclass."""

from __future__ import annotations

from harness.docs.markdown import NOTICE, as_code, builtins_of, plugins_in_use, table


def render_recipe() -> str:
    from harness.config.options import OptionDoc, component_options, describe, selector
    from harness.config.recipe import CORE, ENABLED, SELECTED
    from harness.config.schema import TTAConfig

    plugins = plugins_in_use()

    def rows(opts: list[OptionDoc]) -> list[str]:
        return table(["key", "type", "default", "meaning"],
                     [[f"`{o.key}`", o.type, f"`{o.default}`", o.doc or "(undocumented)"] for o in opts])

    out = [NOTICE, "", "# Recipe reference", "",
           "A recipe is TOML read into typed, frozen config objects: an unknown key fails at once and suggests the "
           "nearest valid key, a wrong type names the expected one, and `--set KEY=VALUE` overrides are checked the "
           "same way. `base = \"other.toml\"` extends another recipe (the child wins). Each key's meaning below is the "
           "comment on its field in the code (`harness/config/schema.py`, and each plugin's options dataclass); "
           "`harness plugins NAME` shows the same for installed third-party components.", ""]
    for section, cls in [*CORE.items(), ("tta", TTAConfig)]:
        out += [f"## [{section}]", "", *rows(describe(cls, section)), ""]
    out += ["### Values of `model.source` and `cv.metric`", ""]
    for kind, key in (("models", "model.source"), ("metrics", "cv.metric")):
        out.append(f"- `{key}`: " + "; ".join(f"`{n}` ({s.doc})" for n, s in builtins_of(plugins, kind).items()))
    out.append("")
    for section, (kind, default) in SELECTED.items():
        out += [f"## [{section}]", "", f"`{section}.name` chooses the component (default `\"{default}\"`); the other keys "
                "of the table are that component's options.", ""]
        for name, spec in builtins_of(plugins, kind).items():
            opts = component_options(kind, name, spec.options)
            out += [f"### {section}.name = \"{name}\"", "", spec.doc, ""]
            out += [*rows(opts), ""] if opts else ["No options.", ""]
    groups = [(section, kind) for section, kind in ENABLED.items()] + [("tta", "tta_views")]
    for section, kind in groups:
        intro = ("`tta.views` lists the views; `[tta.NAME]` holds a view's options." if section == "tta" else
                 f"Each `[{section}.NAME]` table enables one, in recipe order (`enabled = false` keeps it off).")
        out += [f"## [{section}.NAME]", "", intro, ""]
        for name, spec in builtins_of(plugins, kind).items():
            opts = component_options(kind, name, spec.options)
            out += [f"### {name}", "", spec.doc, "", f"Select: {as_code(selector(kind, name))}.", ""]
            out += [*rows(opts), ""] if opts else ["No options.", ""]
    return "\n".join(out).rstrip() + "\n"
