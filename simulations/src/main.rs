//! `heartline-sim`: see [`heartline_sim::cli`].

fn main() -> std::process::ExitCode {
    heartline_sim::cli::main()
}
