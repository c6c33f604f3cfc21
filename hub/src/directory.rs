//! The device directory: credentials of every device, loaded from the store, shared by the
//! broker's connect-time authentication and by ingest's signature checks.

use crate::inventory::token_sha256;
use crate::metrics::{AuthResult, Metrics};
use crate::store::{DeviceRecord, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

#[derive(Clone, Default)]
pub struct Directory {
    devices: Arc<RwLock<HashMap<String, Arc<DeviceRecord>>>>,
    /// Bumped on every change, so that broker nodes fetch it only when it changed.
    generation: Arc<AtomicU64>,
}

impl Directory {
    pub fn load(store: &Store) -> Result<Directory, StoreError> {
        let dir = Directory::default();
        dir.reload(store)?;
        Ok(dir)
    }

    /// Replaces the directory with the store's current devices (after an inventory apply).
    pub fn reload(&self, store: &Store) -> Result<usize, StoreError> {
        let fresh: HashMap<_, _> = store
            .credentials()?
            .into_iter()
            .map(|d| (d.info.id.clone(), Arc::new(d)))
            .collect();
        let n = fresh.len();
        self.replace(fresh.into_values().map(|d| (*d).clone()).collect());
        Ok(n)
    }

    /// Replaces every device at once (a broker node, with what the hub sent).
    pub fn replace(&self, devices: Vec<DeviceRecord>) {
        let fresh = devices
            .into_iter()
            .map(|d| (d.info.id.clone(), Arc::new(d)))
            .collect();
        *self.devices.write().expect("directory lock poisoned") = fresh;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Changes with every [`Directory::replace`] and [`Directory::reload`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Every device, for sharing with broker nodes.
    pub fn all(&self) -> Vec<Arc<DeviceRecord>> {
        self.devices
            .read()
            .expect("directory lock poisoned")
            .values()
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.devices.read().expect("directory lock poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, device: &str) -> Option<Arc<DeviceRecord>> {
        self.devices
            .read()
            .expect("directory lock poisoned")
            .get(device)
            .cloned()
    }

    /// Connect-time check: the username is the device id, the password its token, and the client
    /// id must be the device id too, so that no device can take over another's MQTT session.
    pub fn authenticate(&self, client_id: &str, username: &str, password: &str) -> bool {
        let Some(device) = self.get(username) else {
            return false;
        };
        let hash = token_sha256(password);
        let token_ok: bool = hash.ct_eq(&device.secrets.token_sha256).into();
        token_ok && client_id == username
    }

    /// [`Directory::authenticate`], counted and logged (never with the password).
    pub fn authenticate_counted(
        &self,
        metrics: &Metrics,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> bool {
        let ok = self.authenticate(client_id, username, password);
        let result = if ok {
            AuthResult::Accepted
        } else {
            AuthResult::Refused
        };
        metrics
            .auth
            .get_or_create(&crate::metrics::AuthLabel { result })
            .inc();
        if !ok {
            tracing::warn!(
                client_id,
                username,
                "device connection refused: unknown device, wrong token, or client id other than the device id"
            );
        }
        ok
    }
}
