//! The evaluation budget every template renders with.
//!
//! Templates come from outside: a GGUF file's chat template, a workflow
//! file, a user's prompt folder. Without a budget a template such as
//! `{% for a in range(100000) %}{% for b in range(100000) %}` renders for
//! ever; with one, rendering stops with an error that says why.

use minijinja::{Environment, ErrorKind};

/// Most evaluation steps (minijinja "fuel") one render may take: far more
/// than any real chat, workflow or prompt template needs.
pub const TEMPLATE_FUEL: u64 = 5_000_000;

/// Gives `env` the [`TEMPLATE_FUEL`] budget for each render.
pub fn limit(env: &mut Environment<'_>) {
    env.set_fuel(Some(TEMPLATE_FUEL));
}

/// Whether `error` (or an error it wraps) is a render that ran out of budget.
pub fn out_of_fuel(error: &minijinja::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<minijinja::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::OutOfFuel)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// `error` described for a person: the budget is named when it ran out.
pub fn describe(error: &minijinja::Error) -> String {
    if out_of_fuel(error) {
        format!(
            "the template ran past its budget of {TEMPLATE_FUEL} evaluation steps (a loop that never ends or is far too long?): {error:#}"
        )
    } else {
        format!("{error:#}")
    }
}
