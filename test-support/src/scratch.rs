//! Directories for one test's files.

use std::path::{Path, PathBuf};

/// A fresh directory under the system's temporary directory, removed when
/// dropped by a test that passed (kept, for a look, when it panicked).
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates `lambda-sansio-NAME-PID`, emptied first if an earlier run of
    /// this process id left it behind.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("lambda-sansio-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passing_test_leaves_nothing_behind() {
        let dir = Scratch::new("scratch-self-test");
        std::fs::write(dir.join("file"), b"x").unwrap();
        let path = dir.to_path_buf();
        assert!(path.join("file").exists());
        drop(dir);
        assert!(!path.exists());
    }
}
