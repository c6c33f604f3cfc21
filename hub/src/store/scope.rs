//! Who is reading: every read of the store takes a scope, so no handler can forget a tenant filter.

/// The caller's reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The operator's staff: every tenant.
    Operator,
    /// A customer (or an engineer acting for one): this tenant only.
    Tenant(String),
}

impl Scope {
    /// Whether an object owned by `tenant` is visible to this caller.
    pub fn allows(&self, tenant: &str) -> bool {
        match self {
            Scope::Operator => true,
            Scope::Tenant(own) => own == tenant,
        }
    }
}
