//! One kind's table of named entries, and what declaring a name into it
//! finds: a new entry, the same one declared before, or a conflict. Reads
//! take a read lock and clone an `Arc`; only tools and start-up take them,
//! never a call, which holds its policy in its site's `static`.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::{Entry, KeyOptions, Tabled};
use crate::error::{ConfigError, PolicyName};

/// The entries of one kind, by name.
pub(crate) struct Table<P: Tabled>(RwLock<BTreeMap<PolicyName, Arc<Entry<P>>>>);

/// What declaring a name found.
pub(super) enum Declared<P: Tabled> {
    /// A new entry, or one declared before with the same settings.
    Agreed(Arc<Entry<P>>),
    /// One declared before with other settings, which stay in force.
    Conflicting(Arc<Entry<P>>, ConfigError),
}

impl<P: Tabled> Table<P> {
    pub(super) const fn new() -> Self {
        Self(RwLock::new(BTreeMap::new()))
    }

    /// The policy `name` if there is one, for look-ups that need no error.
    pub(super) fn find(&self, name: &str) -> Option<Arc<P>> {
        self.get(name).ok()
    }

    pub(crate) fn entry(&self, name: &str) -> Option<Arc<Entry<P>>> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }

    pub(crate) fn entries(&self) -> Vec<Arc<Entry<P>>> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.values().cloned().collect()
    }

    pub(crate) fn names(&self) -> Vec<PolicyName> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.keys().cloned().collect()
    }

    pub(crate) fn unknown(&self, name: &str) -> ConfigError {
        ConfigError::UnknownPolicy {
            kind: P::KIND,
            name: name.to_owned(),
            known: self.names().iter().map(|n| n.to_string()).collect(),
        }
    }

    /// The policy `name`, or the member `key` of a keyed policy written
    /// `name[key]`; built if it was not yet.
    pub(super) fn get(&self, name: &str) -> Result<Arc<P>, ConfigError> {
        if let Some(entry) = self.entry(name) {
            return match &entry.keys {
                None => Ok(entry.policy()),
                Some(keys) => Err(ConfigError::UnknownPolicy {
                    kind: P::KIND,
                    name: name.to_owned(),
                    known: keys
                        .members()
                        .iter()
                        .map(|p| p.policy_name().to_string())
                        .collect(),
                }),
            };
        }
        if let Some((group, key)) = name.strip_suffix(']').and_then(|n| n.split_once('['))
            && let Some(entry) = self.entry(group)
            && let Some(keys) = &entry.keys
        {
            return keys.find(key).ok_or_else(|| ConfigError::UnknownPolicy {
                kind: P::KIND,
                name: name.to_owned(),
                known: keys
                    .members()
                    .iter()
                    .map(|p| p.policy_name().to_string())
                    .collect(),
            });
        }
        Err(self.unknown(name))
    }

    /// Declares `name`, or finds the entry declared under it before.
    pub(super) fn declare_shared(
        &self,
        name: PolicyName,
        code: P::Config,
        keys: Option<KeyOptions>,
    ) -> Declared<P> {
        let existing = self.entry(name.as_str());
        let entry = match existing {
            Some(entry) => entry,
            None => {
                let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
                Arc::clone(map.entry(name.clone()).or_insert_with(|| {
                    if keys.is_none() {
                        enrol::<P>(&name);
                    }
                    Arc::new(Entry::new(name.clone(), code, keys))
                }))
            }
        };
        if entry.code == code && entry.keys.is_some() == keys.is_some() {
            return Declared::Agreed(entry);
        }
        let shape = |config: &P::Config, keyed: bool| {
            format!("{config:?}{}", if keyed { " (keyed)" } else { "" })
        };
        let conflict = ConfigError::Conflict {
            kind: P::KIND,
            name: name.to_string(),
            in_force: shape(&entry.code, entry.keys.is_some()),
            ignored: shape(&code, keys.is_some()),
        };
        Declared::Conflicting(entry, conflict)
    }

    /// Declares a new entry under `name`, or under the first free `name#N`.
    pub(super) fn declare_unique(
        &self,
        name: &'static str,
        code: P::Config,
        keys: Option<KeyOptions>,
    ) -> Arc<Entry<P>> {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let mut candidate = PolicyName::from_static(name);
        let mut suffix = 1;
        while map.contains_key(&candidate) {
            suffix += 1;
            candidate = PolicyName::from(format!("{name}#{suffix}"));
        }
        if keys.is_none() {
            enrol::<P>(&candidate);
        }
        let entry = Arc::new(Entry::new(candidate.clone(), code, keys));
        map.insert(candidate, Arc::clone(&entry));
        entry
    }

    /// Every built policy, keyed members included.
    pub(super) fn all(&self) -> Vec<Arc<P>> {
        self.entries()
            .iter()
            .flat_map(|entry| entry.live())
            .collect()
    }
}

/// Tells fault injection that an unkeyed policy is declared under `name`
/// (a look-up by that name finds it), so that a fault there is resolved
/// when the policy is declared, not by a look-up here on a call.
#[cfg_attr(not(feature = "chaos"), allow(unused_variables))]
fn enrol<P: Tabled>(name: &PolicyName) {
    #[cfg(feature = "chaos")]
    crate::chaos::enrol(P::KIND, name.as_str());
}
