//! Who reads a page, as far as words and clocks go: the language of the request and the time
//! zone of each tenant whose objects it shows (one store read per request).

use super::principal::Principal;
use crate::i18n::Lang;
use crate::localtime::Zone;
use crate::store::{Scope, Store};
use std::collections::HashMap;

pub struct Reader {
    pub lang: Lang,
    zones: HashMap<String, Zone>,
    /// The zone of the reader's own tenant (customers), else the default one.
    pub home: Zone,
    /// The operator's staff or an engineer: sees what is for staff (how a report was classified).
    pub staff: bool,
}

impl Reader {
    pub fn load(store: &Store, p: &Principal, lang: Lang) -> Reader {
        let zones: HashMap<String, Zone> = store
            .tenants(&Scope::Operator)
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                let zone = Zone::or_default(&t.time_zone);
                (t.id, zone)
            })
            .collect();
        let home = match p {
            Principal::Customer { tenant, .. } => zones.get(tenant).cloned(),
            _ => None,
        }
        .unwrap_or_default();
        let staff = !matches!(p, Principal::Customer { .. });
        Reader {
            lang,
            zones,
            home,
            staff,
        }
    }

    /// The zone of `tenant`'s objects.
    pub fn zone(&self, tenant: &str) -> &Zone {
        self.zones.get(tenant).unwrap_or(&self.home)
    }

    /// A map of tenant id → zone, for code that takes a lookup.
    pub fn zones(&self) -> impl Fn(&str) -> Zone + '_ {
        |tenant| self.zone(tenant).clone()
    }
}
