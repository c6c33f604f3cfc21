//! Heartline Linux agent (filled by the agent issue).
fn main() {}
