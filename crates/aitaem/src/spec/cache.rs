//! `SpecCache`: every metric, slice and segment of a project, validated together.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::decode::decode;
use super::model::MetricKind;
use super::model::{MetricSpec, SegmentSpec, SliceKind, SliceSpec, Spec, SpecKind};
use crate::error::{Error, Result, SpecIssue, SpecValidationError, close_names};
use crate::yaml::Location;

/// A validated set of specs, looked up by name.
///
/// Loading is all-or-nothing and reports every problem at once: each file's own problems, names
/// defined twice (naming both files), and composite slices whose components are missing or are
/// themselves composites.
///
/// ```
/// use aitaem::SpecCache;
/// let cache = SpecCache::from_strings(
///     &["metric:\n  name: clicks\n  source: duckdb://ads.db/events\n  numerator: SUM(clicks)\n"],
///     &["slice:\n  name: country\n  where: country\n"],
///     &[],
/// )
/// .unwrap();
/// assert_eq!(cache.metric("clicks").unwrap().aggregate().unwrap().numerator.text, "SUM(clicks)");
/// let err = cache.metric("click").unwrap_err();
/// assert_eq!(err.to_string(), "no metric named `click`; did you mean `clicks`?");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SpecCache {
    metrics: BTreeMap<String, MetricSpec>,
    slices: BTreeMap<String, SliceSpec>,
    segments: BTreeMap<String, SegmentSpec>,
    version: u64,
}

impl SpecCache {
    /// An empty cache.
    pub fn new() -> Self {
        SpecCache::default()
    }

    /// Loads a project directory holding `metrics/`, `slices/` and `segments/` (any of them may
    /// be absent; at least one must exist).
    pub fn from_project(dir: impl AsRef<Path>) -> Result<SpecCache> {
        let none: &[&Path] = &[];
        SpecCache::load(Some(dir.as_ref()), none, none, none)
    }

    /// Loads specs from files or directories (every `*.yaml` / `*.yml` in a directory), by kind.
    pub fn from_paths(
        metrics: &[impl AsRef<Path>],
        slices: &[impl AsRef<Path>],
        segments: &[impl AsRef<Path>],
    ) -> Result<SpecCache> {
        SpecCache::load(None, metrics, slices, segments)
    }

    /// Loads a project directory (when given) together with spec files or directories by kind,
    /// all validated as one set.
    pub fn load(
        project: Option<&Path>,
        metrics: &[impl AsRef<Path>],
        slices: &[impl AsRef<Path>],
        segments: &[impl AsRef<Path>],
    ) -> Result<SpecCache> {
        let mut loader = Loader::default();
        if let Some(dir) = project {
            let mut found = false;
            for (sub, kind) in [
                ("metrics", SpecKind::Metric),
                ("slices", SpecKind::Slice),
                ("segments", SpecKind::Segment),
            ] {
                let path = dir.join(sub);
                if path.is_dir() {
                    found = true;
                    loader.path(&path, Some(kind));
                }
            }
            if !found {
                loader.issues.push(SpecIssue {
                    location: Location::file(Some(dir.into())),
                    field: String::new(),
                    message: "no `metrics/`, `slices/` or `segments/` directory here".into(),
                    help: Some(
                        "point to a project directory, or give spec files with --metrics/--slices/--segments"
                            .into(),
                    ),
                });
            }
        }
        for (paths, kind) in [
            (
                metrics.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
                SpecKind::Metric,
            ),
            (slices.iter().map(AsRef::as_ref).collect(), SpecKind::Slice),
            (
                segments.iter().map(AsRef::as_ref).collect(),
                SpecKind::Segment,
            ),
        ] {
            for path in paths {
                loader.path(path, Some(kind));
            }
        }
        loader.finish()
    }

    /// Loads specs from YAML strings (one spec per string), by kind.
    pub fn from_strings(metrics: &[&str], slices: &[&str], segments: &[&str]) -> Result<SpecCache> {
        let mut loader = Loader::default();
        for (texts, kind) in [
            (metrics, SpecKind::Metric),
            (slices, SpecKind::Slice),
            (segments, SpecKind::Segment),
        ] {
            for text in texts {
                loader.text(text, None, Some(kind));
            }
        }
        loader.finish()
    }

    /// The metric called `name`.
    pub fn metric(&self, name: &str) -> Result<&MetricSpec> {
        self.metrics
            .get(name)
            .ok_or_else(|| not_found(SpecKind::Metric, name, self.metrics.keys()))
    }

    /// The slice called `name`.
    pub fn slice(&self, name: &str) -> Result<&SliceSpec> {
        self.slices
            .get(name)
            .ok_or_else(|| not_found(SpecKind::Slice, name, self.slices.keys()))
    }

    /// The segment called `name`.
    pub fn segment(&self, name: &str) -> Result<&SegmentSpec> {
        self.segments
            .get(name)
            .ok_or_else(|| not_found(SpecKind::Segment, name, self.segments.keys()))
    }

    /// All metrics, by name.
    pub fn metrics(&self) -> impl Iterator<Item = &MetricSpec> {
        self.metrics.values()
    }

    /// All slices, by name.
    pub fn slices(&self) -> impl Iterator<Item = &SliceSpec> {
        self.slices.values()
    }

    /// All segments, by name.
    pub fn segments(&self) -> impl Iterator<Item = &SegmentSpec> {
        self.segments.values()
    }

    /// A counter bumped by every change (`add`, `update`, `remove`, `clear`).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Removes every spec.
    pub fn clear(&mut self) {
        self.metrics.clear();
        self.slices.clear();
        self.segments.clear();
        self.version += 1;
    }

    /// Adds a spec; its name must be new for its kind.
    ///
    /// ```
    /// use aitaem::{SpecCache, spec::Spec};
    /// let mut cache = SpecCache::new();
    /// cache.add(Spec::from_yaml("slice:\n  name: country\n  where: country\n").unwrap()).unwrap();
    /// assert_eq!(cache.version(), 1);
    /// assert!(cache.add(Spec::from_yaml("slice:\n  name: country\n  where: region\n").unwrap()).is_err());
    /// ```
    pub fn add(&mut self, spec: Spec) -> Result<()> {
        if self.contains(spec.kind(), spec.name()) {
            return Err(refused(
                &spec,
                format!(
                    "{} `{}` already exists; use update to replace it",
                    spec.kind(),
                    spec.name()
                ),
            ));
        }
        self.check_composite(&spec)?;
        self.insert(spec);
        Ok(())
    }

    /// Replaces the spec of the same kind and name.
    pub fn update(&mut self, spec: Spec) -> Result<()> {
        if !self.contains(spec.kind(), spec.name()) {
            return Err(self.missing(spec.kind(), spec.name()));
        }
        self.check_composite(&spec)?;
        if let Spec::Slice(slice) = &spec
            && slice.is_composite()
        {
            let users = self.composites_using(&slice.name);
            if !users.is_empty() {
                return Err(refused(
                    &spec,
                    format!(
                        "slice `{}` is a component of {}; it cannot become a composite itself",
                        slice.name,
                        users.join(", ")
                    ),
                ));
            }
        }
        self.insert(spec);
        Ok(())
    }

    /// Removes a spec and returns it. A slice that a composite slice uses, and a metric that a
    /// derived metric reads, cannot be removed.
    pub fn remove(&mut self, kind: SpecKind, name: &str) -> Result<Spec> {
        let removed = match kind {
            SpecKind::Metric => {
                let metric = self.metric(name)?;
                let users = self.derived_using(name);
                if !users.is_empty() {
                    return Err(refused(
                        &Spec::Metric(metric.clone()),
                        format!(
                            "metric `{name}` is an input of derived metric(s) {}; remove or change them first",
                            users.join(", ")
                        ),
                    ));
                }
                Spec::Metric(self.metrics.remove(name).expect("checked"))
            }
            SpecKind::Slice => {
                let slice = self.slice(name)?;
                let users = self.composites_using(name);
                if !users.is_empty() {
                    return Err(refused(
                        &Spec::Slice(slice.clone()),
                        format!(
                            "slice `{name}` is used by composite slice(s) {}; remove or change them first",
                            users.join(", ")
                        ),
                    ));
                }
                Spec::Slice(self.slices.remove(name).expect("checked"))
            }
            SpecKind::Segment => {
                self.segment(name)?;
                Spec::Segment(self.segments.remove(name).expect("checked"))
            }
        };
        self.version += 1;
        Ok(removed)
    }

    fn missing(&self, kind: SpecKind, name: &str) -> Error {
        match kind {
            SpecKind::Metric => not_found(kind, name, self.metrics.keys()),
            SpecKind::Slice => not_found(kind, name, self.slices.keys()),
            SpecKind::Segment => not_found(kind, name, self.segments.keys()),
        }
    }

    fn contains(&self, kind: SpecKind, name: &str) -> bool {
        match kind {
            SpecKind::Metric => self.metrics.contains_key(name),
            SpecKind::Slice => self.slices.contains_key(name),
            SpecKind::Segment => self.segments.contains_key(name),
        }
    }

    fn insert(&mut self, spec: Spec) {
        match spec {
            Spec::Metric(m) => {
                self.metrics.insert(m.name.clone(), m);
            }
            Spec::Slice(s) => {
                self.slices.insert(s.name.clone(), s);
            }
            Spec::Segment(s) => {
                self.segments.insert(s.name.clone(), s);
            }
        }
        self.version += 1;
    }

    /// Names of the composite slices that use slice `name`.
    fn composites_using(&self, name: &str) -> Vec<String> {
        self.slices
            .values()
            .filter(|s| matches!(&s.kind, SliceKind::CrossProduct(parts) if parts.iter().any(|p| p == name)))
            .map(|s| format!("`{}`", s.name))
            .collect()
    }

    /// Names of the derived metrics whose expressions read metric `name`.
    fn derived_using(&self, name: &str) -> Vec<String> {
        self.metrics
            .values()
            .filter(|m| m.expression().is_some_and(|e| e.inputs().contains(&name)))
            .map(|m| format!("`{}`", m.name))
            .collect()
    }

    /// Checks what a spec about to be added or updated says about other specs: a composite
    /// slice's components, a derived metric's inputs (defined, and no cycle through it).
    fn check_composite(&self, spec: &Spec) -> Result<()> {
        let mut issues = Vec::new();
        match spec {
            Spec::Slice(slice) => {
                component_issues(slice, |name| self.slices.get(name), &mut issues)
            }
            Spec::Metric(metric) => {
                let mut metrics = self.metrics.clone();
                metrics.insert(metric.name.clone(), metric.clone());
                input_issues(metric, &metrics, &mut issues);
                if issues.is_empty() {
                    cycle_issues(&metrics, Some(&metric.name), &mut issues);
                }
            }
            Spec::Segment(_) => {}
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(SpecValidationError { issues }.into())
        }
    }
}

fn not_found<'a>(kind: SpecKind, name: &str, known: impl Iterator<Item = &'a String>) -> Error {
    Error::SpecNotFound {
        kind,
        name: name.to_string(),
        suggestions: close_names(name, known.map(String::as_str)),
    }
}

fn refused(spec: &Spec, message: String) -> Error {
    SpecValidationError {
        issues: vec![SpecIssue {
            location: spec.location().clone(),
            field: String::new(),
            message,
            help: None,
        }],
    }
    .into()
}

/// Problems with a composite slice's components: missing, or composite themselves.
fn component_issues<'a>(
    slice: &SliceSpec,
    lookup: impl Fn(&str) -> Option<&'a SliceSpec>,
    issues: &mut Vec<SpecIssue>,
) {
    let SliceKind::CrossProduct(parts) = &slice.kind else {
        return;
    };
    for part in parts {
        let message = match lookup(part) {
            None => format!("cross_product names slice `{part}`, which is not defined"),
            Some(component) if component.is_composite() => format!(
                "cross_product names `{part}`, which is itself a composite slice; list its components instead"
            ),
            Some(_) => continue,
        };
        issues.push(SpecIssue {
            location: slice.location.clone(),
            field: "cross_product".into(),
            message,
            help: None,
        });
    }
}

/// Problems with a derived metric's inputs: names that are not metrics.
fn input_issues(
    metric: &MetricSpec,
    metrics: &BTreeMap<String, MetricSpec>,
    issues: &mut Vec<SpecIssue>,
) {
    let MetricKind::Derived(derived) = &metric.kind else {
        return;
    };
    for input in derived.expression.inputs() {
        if metrics.contains_key(input) {
            continue;
        }
        let close = close_names(input, metrics.keys().map(String::as_str));
        issues.push(SpecIssue {
            location: derived.location.clone(),
            field: "expression".into(),
            message: format!("the expression names metric `{input}`, which is not defined"),
            help: close.first().map(|best| format!("did you mean `{best}`?")),
        });
    }
}

/// Derived metrics that depend on themselves (all of them, or only `only`), each reported with
/// its cycle.
fn cycle_issues(
    metrics: &BTreeMap<String, MetricSpec>,
    only: Option<&str>,
    issues: &mut Vec<SpecIssue>,
) {
    /// A path from `from` back to `target` through derived metrics' inputs, if there is one.
    fn path_back<'a>(
        metrics: &'a BTreeMap<String, MetricSpec>,
        from: &'a str,
        target: &str,
        seen: &mut HashSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        let expression = metrics.get(from)?.expression()?;
        for input in expression.inputs() {
            if input == target {
                return Some(vec![from, input]);
            }
            if seen.insert(input)
                && let Some(mut rest) = path_back(metrics, input, target, seen)
            {
                rest.insert(0, from);
                return Some(rest);
            }
        }
        None
    }
    for metric in metrics.values() {
        let MetricKind::Derived(derived) = &metric.kind else {
            continue;
        };
        if only.is_some_and(|name| name != metric.name) {
            continue;
        }
        if let Some(path) = path_back(metrics, &metric.name, &metric.name, &mut HashSet::new()) {
            issues.push(SpecIssue {
                location: derived.location.clone(),
                field: "expression".into(),
                message: format!(
                    "metric `{}` depends on itself: {}",
                    metric.name,
                    path.join(" → ")
                ),
                help: Some(
                    "a derived metric may read other derived metrics, but not in a circle".into(),
                ),
            });
        }
    }
}

/// Gathers specs and problems from many files before building a cache.
#[derive(Default)]
struct Loader {
    specs: Vec<Spec>,
    issues: Vec<SpecIssue>,
    seen_files: HashSet<PathBuf>,
}

impl Loader {
    fn path(&mut self, path: &Path, kind: Option<SpecKind>) {
        let file: Arc<Path> = path.into();
        if path.is_dir() {
            match yaml_files(path) {
                Ok(files) if files.is_empty() && kind.is_none() => {}
                Ok(files) => {
                    for file in files {
                        self.path(&file, kind);
                    }
                }
                Err(err) => self.unreadable(file, &err),
            }
            return;
        }
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if !self.seen_files.insert(canonical) {
            return;
        }
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => self.text(&text, Some(file), kind),
                Err(_) => self.issues.push(SpecIssue {
                    location: Location::file(Some(file)),
                    field: String::new(),
                    message: "the file is not valid UTF-8 text".into(),
                    help: None,
                }),
            },
            Err(err) => self.unreadable(file, &err),
        }
    }

    fn unreadable(&mut self, file: Arc<Path>, err: &std::io::Error) {
        self.issues.push(SpecIssue {
            location: Location::file(Some(file)),
            field: String::new(),
            message: format!("cannot read: {err}"),
            help: None,
        });
    }

    fn text(&mut self, text: &str, file: Option<Arc<Path>>, kind: Option<SpecKind>) {
        match decode(text, file, kind) {
            Ok(spec) => self.specs.push(spec),
            Err(issues) => self.issues.extend(issues),
        }
    }

    fn finish(mut self) -> Result<SpecCache> {
        let mut cache = SpecCache::new();
        let mut first_seen: BTreeMap<(SpecKind, String), Location> = BTreeMap::new();
        for spec in std::mem::take(&mut self.specs) {
            let key = (spec.kind(), spec.name().to_string());
            if let Some(first) = first_seen.get(&key) {
                self.issues.push(SpecIssue {
                    location: spec.location().clone(),
                    field: "name".into(),
                    message: format!(
                        "Duplicate {} name `{}`: also defined in {first}",
                        spec.kind(),
                        spec.name()
                    ),
                    help: Some("names must be unique for each kind; rename one of them".into()),
                });
                continue;
            }
            first_seen.insert(key, spec.location().clone());
            cache.insert(spec);
        }
        for slice in cache.slices.values() {
            component_issues(slice, |name| cache.slices.get(name), &mut self.issues);
        }
        for metric in cache.metrics.values() {
            input_issues(metric, &cache.metrics, &mut self.issues);
        }
        cycle_issues(&cache.metrics, None, &mut self.issues);
        if !self.issues.is_empty() {
            // Files in the order they were loaded; within a file, by position.
            let mut files: Vec<Option<Arc<Path>>> = Vec::new();
            for issue in &self.issues {
                if !files.contains(&issue.location.file) {
                    files.push(issue.location.file.clone());
                }
            }
            self.issues.sort_by_key(|i| {
                let file = files.iter().position(|f| *f == i.location.file);
                (file, i.location.line, i.location.column)
            });
            return Err(SpecValidationError {
                issues: self.issues,
            }
            .into());
        }
        cache.version = 0;
        Ok(cache)
    }
}

/// The `*.yaml` and `*.yml` files directly in `dir`, sorted.
fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl Spec {
    /// Decodes and validates one spec from YAML text (`metric:`, `slice:` or `segment:`).
    ///
    /// ```
    /// use aitaem::spec::Spec;
    /// let spec = Spec::from_yaml("slice:\n  name: device\n  where: device_type\n").unwrap();
    /// assert_eq!(spec.name(), "device");
    /// let err = Spec::from_yaml("slice:\n  name: device\n  wher: device_type\n").unwrap_err();
    /// assert!(err.to_string().contains("unknown field `wher`"));
    /// ```
    pub fn from_yaml(text: &str) -> Result<Spec> {
        Spec::parse(text, None, None)
    }

    /// Decodes and validates one spec, read from `file` (named in errors), that must be of
    /// `kind` when given.
    ///
    /// ```
    /// use aitaem::spec::{Spec, SpecKind};
    /// let err = Spec::parse("slice:\n  name: device\n  where: device_type\n", None, Some(SpecKind::Metric))
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("metric"));
    /// ```
    pub fn parse(text: &str, file: Option<&Path>, kind: Option<SpecKind>) -> Result<Spec> {
        decode(text, file.map(Arc::from), kind)
            .map_err(|issues| SpecValidationError { issues }.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAF: &str = "slice:\n  name: device\n  where: device_type\n";
    const LEAF2: &str = "slice:\n  name: country\n  where: country\n";
    const COMPOSITE: &str = "slice:\n  name: dxc\n  cross_product: [device, country]\n";

    fn issues(result: Result<SpecCache>) -> Vec<SpecIssue> {
        match result {
            Err(Error::SpecValidation(e)) => e.issues,
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn composite_components_must_exist_and_be_leaves() {
        let all = issues(SpecCache::from_strings(
            &[],
            &[
                LEAF,
                COMPOSITE,
                "slice:\n  name: nested\n  cross_product: [dxc, device]\n",
            ],
            &[],
        ));
        let messages: Vec<&str> = all.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("`country`, which is not defined"))
        );
        assert!(messages.iter().any(|m| m.contains("itself a composite")));
    }

    #[test]
    fn add_update_remove_bump_the_version_and_protect_components() {
        let mut cache = SpecCache::from_strings(&[], &[LEAF, LEAF2, COMPOSITE], &[]).unwrap();
        assert_eq!(cache.version(), 0);
        let err = cache.remove(SpecKind::Slice, "device").unwrap_err();
        assert!(
            err.to_string().contains("used by composite slice(s) `dxc`"),
            "{err}"
        );
        cache
            .update(Spec::from_yaml("slice:\n  name: device\n  where: device\n").unwrap())
            .unwrap();
        assert_eq!(cache.version(), 1);
        let err = cache
            .update(
                Spec::from_yaml("slice:\n  name: device\n  cross_product: [country, dxc]\n")
                    .unwrap(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("itself a composite"), "{err}");
        cache.remove(SpecKind::Slice, "dxc").unwrap();
        cache.remove(SpecKind::Slice, "device").unwrap();
        assert_eq!(cache.version(), 3);
        assert!(cache.slice("device").is_err());
        let err = cache.remove(SpecKind::Metric, "nope").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::SpecNotFound);
        let err = cache.add(Spec::from_yaml(COMPOSITE).unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("`device`, which is not defined"),
            "{err}"
        );
    }

    #[test]
    fn kinds_must_match_where_they_are_loaded() {
        let all = issues(SpecCache::from_strings(&[LEAF], &[], &[]));
        assert!(
            all[0]
                .message
                .contains("expected a metric spec, found a slice spec")
        );
    }
}
