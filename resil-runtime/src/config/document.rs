//! Reading configuration documents (JSON, TOML, YAML) into overrides.

use super::{Item, Overrides, Problem, Source, kind_keys, kind_of_key};
use crate::error::ConfigError;
use crate::schema::value::Node;

/// Turns a parsed document into overrides. Shape problems (an unknown
/// section, a setting outside a policy's table) are kept in the overrides
/// and reported, with every other problem, when they are applied.
pub(super) fn from_tree(source: Source, root: Node) -> Overrides {
    let mut overrides = Overrides::new(source);
    let Node::Table(sections) = root else {
        overrides.problems.push(Problem::general(format!(
            "expected a table of sections ({}) at the top level",
            kind_keys()
        )));
        return overrides;
    };
    for (section, node) in sections {
        let Some(kind) = kind_of_key(&section) else {
            overrides.problems.push(Problem::general(format!(
                "unknown section `{section}`; valid sections: {}",
                kind_keys()
            )));
            continue;
        };
        let Node::Table(entries) = node else {
            overrides.problems.push(Problem {
                kind: Some(kind),
                ..Problem::general(format!(
                    "`{section}` must be a table of policies, like `[{section}.NAME]`"
                ))
            });
            continue;
        };
        for (name, node) in entries {
            match node {
                Node::Value(value) if name == "enabled" => {
                    overrides.items.push(Item::Switch { kind, value });
                }
                Node::Table(settings) => {
                    for (key, node) in settings {
                        match node {
                            Node::Value(value) => overrides.items.push(Item::Setting {
                                kind,
                                policy: name.clone(),
                                key,
                                value,
                            }),
                            Node::Table(_) | Node::Other(_) => overrides.problems.push(Problem {
                                kind: Some(kind),
                                policy: Some(name.clone()),
                                key: Some(key),
                                message: format!(
                                    "expected a number, a string or a boolean, found {}",
                                    describe(&node)
                                ),
                            }),
                        }
                    }
                }
                other => overrides.problems.push(Problem {
                    kind: Some(kind),
                    ..Problem::general(format!(
                        "`{section}.{name}` must be a table of settings, like `[{section}.{name}]`, \
                         or `{section}.enabled = true|false`; found {}",
                        describe(&other)
                    ))
                }),
            }
        }
    }
    overrides
}

fn describe(node: &Node) -> String {
    match node {
        Node::Value(value) => format!("the value {value}"),
        Node::Table(_) => "a table".to_owned(),
        Node::Other(what) => (*what).to_owned(),
    }
}

pub(super) fn syntax(source: Source, error: impl std::fmt::Display) -> ConfigError {
    ConfigError::NotApplied {
        origin: source,
        problems: vec![Problem::general(format!("cannot be read: {error}"))],
    }
}

pub(super) fn json(text: &str, source: Source) -> Result<Overrides, ConfigError> {
    match serde_json::from_str::<Node>(text) {
        Ok(root) => Ok(from_tree(source, root)),
        Err(error) => Err(syntax(source, error)),
    }
}

#[cfg(feature = "toml")]
pub(super) fn toml(text: &str, source: Source) -> Result<Overrides, ConfigError> {
    match ::toml::from_str::<Node>(text) {
        Ok(root) => Ok(from_tree(source, root)),
        Err(error) => Err(syntax(source, error.to_string().trim_end())),
    }
}

#[cfg(feature = "yaml")]
pub(super) fn yaml(text: &str, source: Source) -> Result<Overrides, ConfigError> {
    match serde_norway::from_str::<Node>(text) {
        Ok(root) => Ok(from_tree(source, root)),
        Err(error) => Err(syntax(source, error)),
    }
}
