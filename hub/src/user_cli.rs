//! `heartline-hub user ...`: people's accounts live in the inventory file, like devices and
//! engineers. `add` appends a user with a fresh password, `token` an API token; only hashes are
//! written, the secret is printed once. A running hub picks them up on SIGHUP.

use crate::inventory::{Inventory, token_sha256};
use crate::web::session::hash_password;
use anyhow::{Context, bail};
use clap::Subcommand;
use rand::RngCore;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user to the inventory with a fresh password (printed once).
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// operator, customer or engineer.
        #[arg(long)]
        role: String,
        /// The customer's tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// The engineer record an engineer user logs in as.
        #[arg(long)]
        engineer: Option<String>,
        #[arg(long, default_value = "inventory.toml")]
        inventory: PathBuf,
    },
    /// Issue an API token for a user (printed once; the inventory keeps its SHA-256).
    Token {
        id: String,
        #[arg(long, default_value = "inventory.toml")]
        inventory: PathBuf,
    },
    /// Print the Argon2id hash of a password read from standard input.
    HashPassword,
}

fn secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Appends `block` to the inventory, keeping the file unchanged if the result does not validate.
fn append_checked(path: &Path, block: &str) -> anyhow::Result<()> {
    let before =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let after = format!("{}\n{block}", before.trim_end());
    Inventory::parse(path, &after)?;
    let tmp = path.with_extension("toml.tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(after.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

pub fn run(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            id,
            name,
            role,
            tenant,
            engineer,
            inventory,
        } => {
            let password = secret(12);
            let mut block = format!(
                "[[user]]\nid = {id:?}\nname = {name:?}\nrole = {role:?}\npassword_hash = {:?}\n",
                hash_password(&password)
            );
            match (role.as_str(), tenant, engineer) {
                ("operator", None, None) => {}
                ("customer", Some(t), None) => block.push_str(&format!("tenant = {t:?}\n")),
                ("engineer", None, Some(e)) => block.push_str(&format!("engineer = {e:?}\n")),
                _ => bail!(
                    "use --role operator, --role customer --tenant T, or --role engineer --engineer E"
                ),
            }
            append_checked(&inventory, &block)?;
            println!("added user {id} to {}", inventory.display());
            println!("password: {password}");
            println!("(shown once; send SIGHUP to a running hub to apply the inventory)");
        }
        UserCommand::Token { id, inventory } => {
            let token = secret(24);
            let block = format!(
                "[[user_token]]\nuser = {id:?}\ntoken_sha256 = \"{}\"\n",
                hex::encode(token_sha256(&token))
            );
            append_checked(&inventory, &block)?;
            println!("token for {id}: {token}");
            println!("(shown once; send SIGHUP to a running hub to apply the inventory)");
        }
        UserCommand::HashPassword => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.len() < 8 {
                bail!("the password is shorter than 8 characters");
            }
            println!("{}", hash_password(password));
        }
    }
    Ok(())
}
