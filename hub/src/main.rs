//! `heartline-hub`: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    match heartline_hub::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
