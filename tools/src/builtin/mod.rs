//! Built-in tools: [`Calculator`], [`Clock`], [`HttpGet`], and the file tools
//! [`ReadFile`], [`ListDir`], [`WriteFile`], [`WriteJsonl`] confined to an [`FsRoot`]; all of
//! them together in [`standard_tools`].

mod calculator;
mod clock;
mod fs;
mod http;
mod jsonl;
mod net;
mod regular_file;
mod standard;

pub use calculator::{Calculator, CalculatorArgs, CalculatorOutput, evaluate};
pub use clock::{Clock, ClockArgs, ClockOutput, now_in};
pub use fs::{
    DirEntry, FsRoot, ListDir, ListDirArgs, ListDirOutput, ReadFile, ReadFileArgs, ReadFileOutput,
    WriteFile, WriteFileArgs, WriteFileOutput,
};
pub use http::{HttpGet, HttpGetArgs, HttpGetConfig, HttpGetOutput};
pub use jsonl::{MAX_ROW_BYTES, MAX_ROWS, WriteJsonl, WriteJsonlArgs, WriteJsonlOutput};
pub use net::AddressRules;
pub use standard::{STANDARD_TOOLS, StandardToolsError, standard_tools};
