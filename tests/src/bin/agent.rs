//! The real `heartline-agent` command line, built inside this crate so that its tests can run it
//! as a separate process (for SIGKILL).

fn main() -> std::process::ExitCode {
    heartline_agent::cli::main()
}
