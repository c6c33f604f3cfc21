//! Finished tickets leave the engine's memory once past the reopen window: what stays and what
//! goes, that eviction changes no decision, and that an evicted ticket can be handed back for a
//! late action.

mod common;

use common::*;
use heartline_engine::*;
use heartline_proto::CheckState;
use std::collections::BTreeMap;

/// A camera whose check fails and recovers at `at`, then reports healthy for `quiet`.
fn blip(s: &mut Sim, quiet: Ms) {
    s.send("d", check("rtsp", CheckState::Crit));
    s.send("d", check("rtsp", CheckState::Ok));
    healthy(s, quiet);
}

/// The camera reports a passing check every hour for `dt`, so it is never silent.
fn healthy(s: &mut Sim, dt: Ms) {
    s.keep("d", &check("rtsp", CheckState::Ok), HOUR, s.now + dt);
}

#[test]
fn a_finished_ticket_stays_through_the_reopen_window_and_goes_after_it() {
    let mut s = Sim::one(cfg());
    blip(&mut s, 3 * MINUTE);
    let t = s.only();
    assert_eq!(t.state, TicketState::AutoRecovered);
    s.engine.take_changes();
    healthy(&mut s, cfg().reopen_window - HOUR);
    assert!(s.engine.evict_settled(s.now).is_empty(), "still reopenable");
    assert!(s.engine.ticket(t.id).is_some());
    healthy(&mut s, 2 * HOUR);
    assert_eq!(s.engine.evict_settled(s.now), vec![t.id]);
    assert!(s.engine.ticket(t.id).is_none());
    assert!(s.engine.evict_settled(s.now).is_empty(), "nothing twice");
    // A recurrence now opens a new ticket, as it would have without eviction.
    s.send("d", check("rtsp", CheckState::Crit));
    let next = s.only();
    assert!(next.id > t.id, "{next:#?}");
    assert_eq!((next.state, next.reopened), (TicketState::Open, 0));
}

#[test]
fn unfinished_and_untaken_tickets_are_never_evicted() {
    let mut s = Sim::one(cfg());
    s.send("d", check("rtsp", CheckState::Crit));
    let failing = check("rtsp", CheckState::Crit);
    s.keep("d", &failing, HOUR, s.now + 10 * DAY_S as Ms * SECOND);
    let open = s.only();
    assert!(!open.state.is_terminal());
    assert!(s.engine.evict_settled(s.now).is_empty(), "open for days");
    // Finished, but not yet taken (so not yet stored): it stays until it is.
    s.send("d", check("rtsp", CheckState::Ok));
    healthy(&mut s, 3 * HOUR);
    assert!(s.only().state.is_terminal(), "{:#?}", s.only());
    healthy(&mut s, cfg().reopen_window + HOUR);
    assert!(
        s.engine.evict_settled(s.now).is_empty(),
        "changed since the last take"
    );
    let taken = s.engine.take_changes();
    assert!(taken.tickets.iter().any(|t| t.id == open.id));
    assert_eq!(s.engine.evict_settled(s.now), vec![open.id]);
}

#[test]
fn a_late_rating_applies_to_a_readmitted_ticket() {
    let mut s = Sim::one(cfg());
    blip(&mut s, 3 * MINUTE);
    let stored = s.only();
    s.engine.take_changes();
    healthy(&mut s, cfg().reopen_window + HOUR);
    let stored = s.engine.take_changes().tickets.pop().unwrap_or(stored);
    assert_eq!(s.engine.evict_settled(s.now), vec![stored.id]);
    let rate = TicketAction::Rate {
        stars: 4,
        comment: "修好了".into(),
    };
    let customer = Actor::Customer("it-manager".into());
    assert_eq!(
        s.act_as(stored.id, rate.clone(), customer.clone()),
        Err(TicketError::NoSuchTicket(stored.id))
    );
    s.engine.readmit(stored.clone());
    s.act_as(stored.id, rate, customer).unwrap();
    let changed = s.engine.take_changes().tickets;
    assert_eq!(changed.len(), 1);
    let rating = changed[0].rating.as_ref().expect("rated");
    assert_eq!((rating.stars, rating.by.as_str()), (4, "it-manager"));
    // Readmitting what the engine still holds changes nothing.
    s.engine.readmit(stored.clone());
    assert_eq!(
        s.engine.ticket(stored.id).unwrap().rating,
        changed[0].rating
    );
}

#[test]
fn evicting_every_hour_decides_exactly_what_keeping_everything_decides() {
    let mut keep = Sim::one(cfg());
    let mut evict = Sim::one(cfg());
    let mut stored: BTreeMap<TicketId, Ticket> = BTreeMap::new();
    // Recurrences at gaps around the reopen window: some reopen, some open anew.
    let gaps = [2, 30, 20, 26, 1, 25, 23, 50, 3, 24, 25].map(|h| h as Ms * HOUR);
    for gap in gaps {
        for s in [&mut keep, &mut evict] {
            blip(s, 3 * MINUTE);
        }
        let mut left = gap;
        while left > 0 {
            let step = left.min(HOUR);
            keep.by(step);
            evict.by(step);
            for t in evict.engine.take_changes().tickets {
                stored.insert(t.id, t);
            }
            for id in evict.engine.evict_settled(evict.now) {
                assert!(stored.contains_key(&id), "evicted before it was stored");
            }
            left -= step;
        }
    }
    for t in evict.engine.take_changes().tickets {
        stored.insert(t.id, t);
    }
    let all: Vec<Ticket> = keep.tickets();
    assert!(
        all.len() >= 3,
        "the run must open several tickets: {}",
        all.len()
    );
    assert!(
        all.iter().any(|t| t.reopened > 0),
        "and reopen some: {all:#?}"
    );
    assert!(
        evict.tickets().len() < all.len(),
        "and evict some: {} of {}",
        evict.tickets().len(),
        all.len()
    );
    let kept: Vec<Ticket> = stored.into_values().collect();
    assert_eq!(kept, all);
}
