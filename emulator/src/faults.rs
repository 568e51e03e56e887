//! Faults the emulator injects on purpose, for tests of clients.

use std::time::Duration;

/// What to do to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an `InjectedFault` error body, without
    /// passing the request to the platform.
    Status(u16),
    /// Close the connection without an answer, without passing the request
    /// to the platform.
    Reset,
    /// Pass the request to the platform, then send only the first half of its
    /// answer's body and close the connection. The platform is told the
    /// answer was not delivered, so an invocation it carried is delivered
    /// again on the next poll.
    Truncate,
    /// Wait this long before passing the request to the platform.
    Delay(Duration),
}

/// Apply `fault` to the `nth` API request (1-based, counting every Runtime,
/// Extensions and Telemetry API request the emulator receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Which request.
    pub nth: u64,
    /// What to do.
    pub fault: Fault,
}

impl std::str::FromStr for FaultRule {
    type Err = String;

    /// `N=STATUS`, `N=reset`, `N=truncate` or `N=delay:MILLIS`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (nth, fault) = text.split_once('=').ok_or_else(|| format!("{text:?}: expected N=FAULT"))?;
        let nth: u64 = nth.trim().parse().map_err(|_| format!("{nth:?} is not a request number"))?;
        let fault = match fault.trim() {
            "reset" => Fault::Reset,
            "truncate" => Fault::Truncate,
            other => match other.strip_prefix("delay:") {
                Some(ms) => {
                    Fault::Delay(Duration::from_millis(ms.parse().map_err(|_| format!("bad delay {ms:?}"))?))
                }
                None => Fault::Status(
                    other
                        .parse()
                        .ok()
                        .filter(|s| (100..600).contains(s))
                        .ok_or_else(|| format!("bad fault {other:?}"))?,
                ),
            },
        };
        Ok(Self { nth, fault })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        assert_eq!("3=500".parse(), Ok(FaultRule { nth: 3, fault: Fault::Status(500) }));
        assert_eq!("1=reset".parse(), Ok(FaultRule { nth: 1, fault: Fault::Reset }));
        assert_eq!("2=truncate".parse(), Ok(FaultRule { nth: 2, fault: Fault::Truncate }));
        assert_eq!(
            "4=delay:250".parse(),
            Ok(FaultRule { nth: 4, fault: Fault::Delay(Duration::from_millis(250)) })
        );
        for bad in ["x=500", "3", "3=700", "3=delay:soon", "3=nope"] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad}");
        }
    }
}
