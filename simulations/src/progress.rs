//! A progress line on stderr while a run goes: virtual time done, redrawn at most ten times a
//! second of wall time.

use heartline_engine::Ms;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Bar {
    on: bool,
    /// Not a terminal: a plain line every tenth of the run instead of a redrawn bar.
    plain: bool,
    tenth: u32,
    calls: u32,
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
            plain: !std::io::stderr().is_terminal(),
            tenth: 0,
            calls: 0,
            start,
            end,
            last: now,
            began: now,
        }
    }

    /// Virtual time has reached `now`.
    pub fn at(&mut self, now: Ms) {
        // Reading the clock costs more than a device report: look only now and then.
        self.calls = self.calls.wrapping_add(1);
        if !self.on || self.calls % 4096 != 0 {
            return;
        }
        let done =
            ((now - self.start) as f64 / (self.end - self.start).max(1) as f64).clamp(0.0, 1.0);
        if self.plain {
            let tenth = (done * 10.0) as u32;
            if tenth > self.tenth {
                self.tenth = tenth;
                self.draw(done, now);
                eprintln!();
            }
            return;
        }
        if self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        self.draw(done, now);
    }

    pub fn done(&mut self) {
        if self.on && !(self.plain && self.tenth >= 10) {
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
            "{}[{}{}] {:>3.0}%  virtual {:>6.1} h  wall {:>5.1} s",
            if self.plain { "" } else { "\r" },
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            done * 100.0,
            hours,
            self.began.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }
}
