//! Which normalisation steps run: [`NormalizerConfig`], its named presets and the
//! `preset+step-step` spelling used on the command line.
//!
//! The config is saved in a trained model's `config.json` so that train, eval and predict apply
//! the same steps; the step booleans are authoritative, `preset` only records where they came
//! from.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The normalisation steps to apply, each on or off, and the preset they came from.
///
/// Steps run in this order: Unicode (`unicode_nfkc` or `presentation_forms`), then per
/// character `drop_invisible`, `remove_diacritics`, `remove_tatweel`, `collapse_whitespace`
/// and the letter and digit maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizerConfig {
    /// The spec these steps were built from: a preset name, possibly with `+step`/`-step`
    /// changes (see [`NormalizerConfig::parse`]). Informational only.
    pub preset: String,
    /// NFKC on the whole text (as CAMeL Tools' `normalize_unicode`, which also maps ﷼ and ﷽);
    /// subsumes `presentation_forms`.
    pub unicode_nfkc: bool,
    /// Arabic presentation forms (U+FB50..=U+FDFF, U+FE70..=U+FEFF) to base letters: NFKC on
    /// those characters only.
    pub presentation_forms: bool,
    /// Drop invisible marks: zero-width characters, direction marks and controls, BOM.
    pub drop_invisible: bool,
    /// Remove diacritics: tashkeel U+064B..=U+065F, superscript alef U+0670, Quranic marks.
    pub remove_diacritics: bool,
    /// Remove tatweel U+0640.
    pub remove_tatweel: bool,
    /// Collapse every whitespace run to one space and trim both ends.
    pub collapse_whitespace: bool,
    /// أ إ آ ٱ → ا.
    pub unify_alef: bool,
    /// ى → ي.
    pub alef_maksura_to_yeh: bool,
    /// ة → ه.
    pub teh_marbuta_to_heh: bool,
    /// Arabic-Indic and Eastern Arabic-Indic digits → ASCII digits.
    pub digits_to_ascii: bool,
}

/// The preset names, in the order shown to users.
const PRESET_NAMES: &[&str] = &["none", "e5", "arabert", "camelbert", "full"];

/// The step names accepted by [`NormalizerConfig::parse`] (the field names).
const STEP_NAMES: &[&str] = &[
    "unicode_nfkc",
    "presentation_forms",
    "drop_invisible",
    "remove_diacritics",
    "remove_tatweel",
    "collapse_whitespace",
    "unify_alef",
    "alef_maksura_to_yeh",
    "teh_marbuta_to_heh",
    "digits_to_ascii",
];

impl Default for NormalizerConfig {
    /// The `none` preset: every step off.
    fn default() -> Self {
        Self::all_steps("none", false)
    }
}

impl NormalizerConfig {
    /// The named preset:
    /// - `none`: nothing changes.
    /// - `e5`: nothing changes in naba; the XLM-R tokenizer of multilingual-e5 already applies
    ///   its own NFKC-style normaliser and whitespace handling.
    /// - `arabert`: as AraBERT v0.2's preprocessor: no tashkeel, no tatweel, ASCII digits, plus
    ///   presentation forms, invisible marks and whitespace.
    /// - `camelbert`: as CAMeLBERT's pretraining text: NFKC, no diacritics, no tatweel, plus
    ///   invisible marks and whitespace.
    /// - `full`: every step (orthographic normalisation for topic classification or search).
    pub fn preset(name: &str) -> Result<Self> {
        let mut cfg = Self::all_steps(name, false);
        match name {
            "none" | "e5" => {}
            "arabert" => {
                cfg.presentation_forms = true;
                cfg.drop_invisible = true;
                cfg.remove_diacritics = true;
                cfg.remove_tatweel = true;
                cfg.collapse_whitespace = true;
                cfg.digits_to_ascii = true;
            }
            "camelbert" => {
                cfg.unicode_nfkc = true;
                cfg.drop_invisible = true;
                cfg.remove_diacritics = true;
                cfg.remove_tatweel = true;
                cfg.collapse_whitespace = true;
            }
            "full" => cfg = Self::all_steps(name, true),
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown normaliser preset '{name}'; expected one of: {}",
                    PRESET_NAMES.join(", ")
                )))
            }
        }
        Ok(cfg)
    }

    /// The names [`NormalizerConfig::preset`] accepts.
    pub fn preset_names() -> &'static [&'static str] {
        PRESET_NAMES
    }

    /// The step names [`NormalizerConfig::parse`] accepts after `+` or `-`.
    pub fn step_names() -> &'static [&'static str] {
        STEP_NAMES
    }

    /// Parses `preset[(+|-)step]...`, e.g. `arabert`, `camelbert+unify_alef`,
    /// `none+remove_diacritics+remove_tatweel`, `full-digits_to_ascii`. The whole spec is kept
    /// in `preset`.
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        let name_end = spec.find(['+', '-']).unwrap_or(spec.len());
        let mut cfg = Self::preset(&spec[..name_end])?;
        let mut rest = &spec[name_end..];
        while let Some(sign) = rest.chars().next() {
            rest = &rest[1..];
            let step_end = rest.find(['+', '-']).unwrap_or(rest.len());
            cfg.set_step(&rest[..step_end], sign == '+')
                .map_err(|e| Error::Invalid(format!("normaliser spec '{spec}': {e}")))?;
            rest = &rest[step_end..];
        }
        cfg.preset = spec.to_string();
        Ok(cfg)
    }

    /// Turns the step called `name` (one of [`NormalizerConfig::step_names`]) on or off.
    pub fn set_step(&mut self, name: &str, on: bool) -> Result<()> {
        let flag = match name {
            "unicode_nfkc" => &mut self.unicode_nfkc,
            "presentation_forms" => &mut self.presentation_forms,
            "drop_invisible" => &mut self.drop_invisible,
            "remove_diacritics" => &mut self.remove_diacritics,
            "remove_tatweel" => &mut self.remove_tatweel,
            "collapse_whitespace" => &mut self.collapse_whitespace,
            "unify_alef" => &mut self.unify_alef,
            "alef_maksura_to_yeh" => &mut self.alef_maksura_to_yeh,
            "teh_marbuta_to_heh" => &mut self.teh_marbuta_to_heh,
            "digits_to_ascii" => &mut self.digits_to_ascii,
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown normaliser step '{name}'; expected one of: {}",
                    STEP_NAMES.join(", ")
                )))
            }
        };
        *flag = on;
        Ok(())
    }

    /// Whether no step is on, so normalising returns the text unchanged.
    pub fn is_noop(&self) -> bool {
        *self
            == Self {
                preset: self.preset.clone(),
                ..Self::default()
            }
    }

    fn all_steps(preset: &str, on: bool) -> Self {
        Self {
            preset: preset.to_string(),
            unicode_nfkc: on,
            presentation_forms: on,
            drop_invisible: on,
            remove_diacritics: on,
            remove_tatweel: on,
            collapse_whitespace: on,
            unify_alef: on,
            alef_maksura_to_yeh: on,
            teh_marbuta_to_heh: on,
            digits_to_ascii: on,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_and_keeps_its_name() {
        for name in NormalizerConfig::preset_names() {
            assert_eq!(NormalizerConfig::preset(name).unwrap().preset, *name);
        }
        assert!(NormalizerConfig::preset("none").unwrap().is_noop());
        assert!(NormalizerConfig::preset("e5").unwrap().is_noop());
        assert!(!NormalizerConfig::preset("arabert").unwrap().is_noop());
    }

    #[test]
    fn unknown_preset_is_a_clear_error() {
        let err = NormalizerConfig::preset("arabart").unwrap_err().to_string();
        assert!(
            err.contains("'arabart'") && err.contains("camelbert"),
            "{err}"
        );
    }

    #[test]
    fn parse_applies_step_changes_in_order() {
        let cfg = NormalizerConfig::parse("arabert+unify_alef-digits_to_ascii").unwrap();
        assert!(cfg.unify_alef && !cfg.digits_to_ascii && cfg.remove_diacritics);
        assert_eq!(cfg.preset, "arabert+unify_alef-digits_to_ascii");
        let cfg = NormalizerConfig::parse("none+remove_tatweel").unwrap();
        assert!(cfg.remove_tatweel && !cfg.remove_diacritics);
        let err = NormalizerConfig::parse("none+remove_vowels")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("remove_vowels") && err.contains("none+remove_vowels"),
            "{err}"
        );
        assert!(NormalizerConfig::parse("none+").is_err());
    }

    #[test]
    fn step_names_match_set_step() {
        let mut cfg = NormalizerConfig::default();
        for name in NormalizerConfig::step_names() {
            cfg.set_step(name, true).unwrap();
        }
        assert_eq!(cfg, NormalizerConfig::all_steps("none", true));
    }

    #[test]
    fn config_round_trips_through_json_and_rejects_unknown_steps() {
        let cfg = NormalizerConfig::parse("camelbert+unify_alef").unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        let back: NormalizerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
        let partial: NormalizerConfig =
            serde_json::from_str(r#"{"preset":"x","remove_tatweel":true}"#).unwrap();
        assert!(partial.remove_tatweel && !partial.remove_diacritics);
        assert!(serde_json::from_str::<NormalizerConfig>(r#"{"lowercase":true}"#).is_err());
    }
}
