//! The message catalogue: every sentence a person reads (pages, the API's human-readable fields,
//! timeline entries, notifications) in Simplified Chinese and English, as Fluent messages
//! compiled into the binary.
//!
//! - [`Lang`]: the two languages, and which one a request wants (cookie, then
//!   `Accept-Language`, then Chinese); [`render`]: timeline entries, faults, states in a language;
//! - [`Catalog::page_table`]: the page's own strings, sent to the browser as `{name}` templates.
//!
//! A message missing in one language is a test failure (`tests` below and `hub/tests/i18n.rs`),
//! not a raw key on a page: [`Catalog::text`] falls back to the id only so that a mistake shows.

mod lang;
pub mod render;

pub use lang::{COOKIE, Lang};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use std::sync::OnceLock;

const EN: &str = include_str!("en.ftl");
const ZH_CN: &str = include_str!("zh-CN.ftl");

/// Both languages' bundles, built once.
pub struct Catalog {
    en: FluentBundle<FluentResource>,
    zh: FluentBundle<FluentResource>,
}

fn bundle(lang: Lang, source: &str) -> FluentBundle<FluentResource> {
    let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(_, errors)| {
        panic!("{} catalogue does not parse: {errors:?}", lang.tag())
    });
    let id = lang.tag().parse().expect("a valid language tag");
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // Directional isolation marks would show up in plain-text mail and CSV.
    b.set_use_isolating(false);
    b.add_resource(resource)
        .unwrap_or_else(|e| panic!("{} catalogue has duplicate ids: {e:?}", lang.tag()));
    b
}

/// The catalogue of the process.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog {
        en: bundle(Lang::En, EN),
        zh: bundle(Lang::ZhCn, ZH_CN),
    })
}

/// Shorthand for [`Catalog::text`] on the process's catalogue.
pub fn t(lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
    catalog().text(lang, id, args)
}

impl Catalog {
    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::En => &self.en,
            Lang::ZhCn => &self.zh,
        }
    }

    /// The message `id` in `lang` with its arguments; numbers given as text that parse as
    /// numbers are passed as numbers (plural selection). Errors (a missing id or argument)
    /// are returned beside the best-effort text.
    pub fn format(&self, lang: Lang, id: &str, args: &[(&str, &str)]) -> (String, Vec<String>) {
        let b = self.bundle(lang);
        let Some(pattern) = b.get_message(id).and_then(|m| m.value()) else {
            return (
                id.to_string(),
                vec![format!("no message {id} in {}", lang.tag())],
            );
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            match v.parse::<f64>() {
                Ok(n) if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) => {
                    fargs.set(*k, FluentValue::from(n))
                }
                _ => fargs.set(*k, FluentValue::from(*v)),
            }
        }
        let mut errors = Vec::new();
        let text = b.format_pattern(pattern, Some(&fargs), &mut errors);
        let errors = errors
            .into_iter()
            .map(|e| format!("{id} in {}: {e}", lang.tag()))
            .collect();
        (text.into_owned(), errors)
    }

    /// The message `id` in `lang`; a missing message or argument is logged once per call site
    /// and shows its id, never a blank.
    pub fn text(&self, lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
        let (text, errors) = self.format(lang, id, args);
        if !errors.is_empty() {
            tracing::warn!(message = id, lang = lang.tag(), errors = ?errors, "message catalogue");
        }
        text
    }

    /// Every message id of `lang`, in file order.
    pub fn ids(&self, lang: Lang) -> Vec<String> {
        let source = match lang {
            Lang::En => EN,
            Lang::ZhCn => ZH_CN,
        };
        let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(r, _)| r);
        resource
            .entries()
            .filter_map(|e| match e {
                ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The page's strings (`page-*`) of `lang` as templates with `{name}` holes, for the
    /// browser; `Err` names a page message that uses more than plain placeables.
    pub fn page_table(
        &self,
        lang: Lang,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let b = self.bundle(lang);
        let mut out = serde_json::Map::new();
        for id in self
            .ids(lang)
            .into_iter()
            .filter(|id| id.starts_with("page-"))
        {
            let pattern = b
                .get_message(&id)
                .and_then(|m| m.value())
                .ok_or_else(|| format!("{id} has no value"))?;
            let mut template = String::new();
            for element in &pattern.elements {
                match element {
                    ast::PatternElement::TextElement { value } => template.push_str(value),
                    ast::PatternElement::Placeable {
                        expression:
                            ast::Expression::Inline(ast::InlineExpression::VariableReference { id: v }),
                    } => {
                        template.push('{');
                        template.push_str(v.name);
                        template.push('}');
                    }
                    _ => {
                        return Err(format!(
                            "{id} in {}: only {{ $name }} placeables",
                            lang.tag()
                        ));
                    }
                }
            }
            out.insert(id, serde_json::Value::String(template));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_message_ids() {
        let c = catalog();
        let (en, zh) = (c.ids(Lang::En), c.ids(Lang::ZhCn));
        let missing_zh: Vec<_> = en.iter().filter(|id| !zh.contains(id)).collect();
        let missing_en: Vec<_> = zh.iter().filter(|id| !en.contains(id)).collect();
        assert!(missing_zh.is_empty(), "missing in zh-CN: {missing_zh:?}");
        assert!(missing_en.is_empty(), "missing in en: {missing_en:?}");
        assert!(en.len() > 150, "{} messages", en.len());
    }

    #[test]
    fn page_tables_are_plain_templates_in_both_languages() {
        for lang in Lang::ALL {
            let table = catalog().page_table(lang).unwrap();
            assert_eq!(
                table["page-open-tickets"]
                    .as_str()
                    .unwrap()
                    .matches('{')
                    .count(),
                3
            );
            for (id, v) in &table {
                assert!(!v.as_str().unwrap().trim().is_empty(), "{id} is blank");
            }
        }
        assert_eq!(
            catalog().page_table(Lang::ZhCn).unwrap()["page-login"],
            "登录"
        );
    }

    #[test]
    fn plural_and_missing_arguments() {
        let c = catalog();
        let chosen = |open: &str| {
            c.format(
                Lang::En,
                "tl-chosen",
                &[
                    ("engineer", "a"),
                    ("area", "grid G7"),
                    ("skill", "camera"),
                    ("open", open),
                ],
            )
        };
        assert_eq!(
            chosen("1").0,
            "chosen: a — covers grid G7, skill camera, 1 open ticket"
        );
        assert_eq!(
            chosen("0").0,
            "chosen: a — covers grid G7, skill camera, 0 open tickets"
        );
        let (_, errors) = c.format(Lang::ZhCn, "tl-dispatched", &[]);
        assert!(!errors.is_empty(), "a missing argument is reported");
        let (text, errors) = c.format(Lang::ZhCn, "no-such-message", &[]);
        assert_eq!((text.as_str(), errors.len()), ("no-such-message", 1));
    }
}
