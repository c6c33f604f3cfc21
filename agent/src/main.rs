//! `heartline-agent`: hands the command line over to the library.

fn main() -> std::process::ExitCode {
    heartline_agent::cli::main()
}
