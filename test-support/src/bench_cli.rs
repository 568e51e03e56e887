//! How the benchmark commands (`bench_e2e`, `bench_web`, `bench_forwarder`)
//! read their arguments and end: `--help` prints the usage, a wrong
//! argument says which and points at `--help`, and a failure is one
//! sentence on stderr with a failing exit status (never Rust's `Debug`
//! output of an error).

use std::process::ExitCode;
use std::str::FromStr;

/// How a command that read its arguments went on.
pub enum Asked {
    /// It ran.
    Ran,
    /// It was asked for its usage, which is printed by [`finish`].
    Help,
}

/// The value after `option`, parsed; an error names the option and what it
/// wanted.
pub fn value<T: FromStr>(
    option: &str,
    what: &str,
    args: &mut impl Iterator<Item = String>,
) -> Result<T, String> {
    let given = args.next().ok_or_else(|| format!("{option} needs {what}; see --help"))?;
    given.parse().map_err(|_| format!("{option} needs {what}, not \"{given}\"; see --help"))
}

/// Ends the command `program`: prints `usage` for `--help`, nothing more
/// on success, else `program: error` on stderr and exit status 1.
pub fn finish(program: &str, usage: &str, outcome: Result<Asked, String>) -> ExitCode {
    match outcome {
        Ok(Asked::Ran) => ExitCode::SUCCESS,
        Ok(Asked::Help) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{usage}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> std::vec::IntoIter<String> {
        list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn values_are_parsed_or_named_in_the_error() {
        assert_eq!(value::<u32>("--rounds", "a count", &mut args(&["7"])), Ok(7));
        assert_eq!(
            value::<u32>("--rounds", "a count", &mut args(&["seven"])),
            Err("--rounds needs a count, not \"seven\"; see --help".to_owned())
        );
        assert_eq!(
            value::<u32>("--rounds", "a count", &mut args(&[])),
            Err("--rounds needs a count; see --help".to_owned())
        );
    }

    #[test]
    fn failures_exit_non_zero() {
        assert_eq!(finish("bench", "usage", Err("no".into())), ExitCode::FAILURE);
        assert_eq!(finish("bench", "usage", Ok(Asked::Help)), ExitCode::SUCCESS);
        assert_eq!(finish("bench", "usage", Ok(Asked::Ran)), ExitCode::SUCCESS);
    }
}
