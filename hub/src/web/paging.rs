//! A project's device table a page at a time (`GET /api/v1/projects/{id}?page=N&per_page=M`,
//! optionally `&site=S`): the devices with a problem first, then the rest, each group in the
//! store's order; the answer says which page of how many, and lists every id (for the customer's
//! report form). Without `page` the answer has every device, as before.

use super::views::{DeviceRow, device_row, worse_first};
use crate::live::Board;
use heartline_engine::DeviceInfo;
use heartline_proto::DeviceStatus;
use serde::Deserialize;
use serde_json::{Value, json};

/// Rows per page unless `per_page` says otherwise; at most [`MAX_PER_PAGE`].
pub const PER_PAGE: usize = 100;
pub const MAX_PER_PAGE: usize = 500;

#[derive(Debug, Default, Deserialize)]
pub struct DeviceQuery {
    pub page: Option<usize>,
    pub per_page: Option<usize>,
    pub site: Option<String>,
}

/// The rows to answer with and, when a page was asked for, what the page is.
pub fn rows(devices: &[DeviceInfo], board: &Board, q: &DeviceQuery) -> (Vec<DeviceRow>, Value) {
    let Some(asked) = q.page else {
        let rows = devices.iter().map(|d| device_row(d, board)).collect();
        return (rows, Value::Null);
    };
    let status = |d: &DeviceInfo| {
        board
            .device(&d.id)
            .map_or(DeviceStatus::Unknown, |v| v.status)
    };
    let mut chosen: Vec<&DeviceInfo> = devices
        .iter()
        .filter(|d| q.site.as_ref().is_none_or(|s| &d.site == s))
        .collect();
    chosen.sort_by_key(|d| worse_first(status(d)));
    let per_page = q.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
    let total = chosen.len();
    let pages = total.div_ceil(per_page).max(1);
    let page = asked.clamp(1, pages);
    let rows = chosen
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|d| device_row(d, board))
        .collect();
    let ids: Vec<&str> = chosen.iter().map(|d| d.id.as_str()).collect();
    let meta = json!({
        "page": page, "pages": pages, "per_page": per_page, "total": total, "ids": ids,
    });
    (rows, meta)
}
