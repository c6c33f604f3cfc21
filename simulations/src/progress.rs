//! A progress line on stderr while a run goes: virtual time done, redrawn at most ten times a
//! second of wall time.

use heartline_hub::engine::Ms;
use std::io::Write;
use std::time::{Duration, Instant};

pub struct Bar {
    on: bool,
    start: Ms,
    end: Ms,
    last: Instant,
    began: Instant,
}

const WIDTH: usize = 30;

impl Bar {
    pub fn new(on: bool, start: Ms, end: Ms) -> Bar {
        let now = Instant::now();
        Bar {
            on,
            start,
            end,
            last: now,
            began: now,
        }
    }

    /// Virtual time has reached `now`.
    pub fn at(&mut self, now: Ms) {
        if !self.on || self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        let done = (now - self.start) as f64 / (self.end - self.start).max(1) as f64;
        self.draw(done.clamp(0.0, 1.0), now);
    }

    pub fn done(&mut self) {
        if self.on {
            self.draw(1.0, self.end);
            eprintln!();
        }
    }

    fn draw(&self, done: f64, now: Ms) {
        let filled = (done * WIDTH as f64) as usize;
        let hours = (now - self.start) as f64 / 3_600_000.0;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {:>3.0}%  virtual {:>6.1} h  wall {:>5.1} s",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            done * 100.0,
            hours,
            self.began.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }
}
