//! A collection (or any checked list of paths, as a torrent's) as a folder tree, for the mount: folders and files by
//! index, each folder's children sorted by name. Indices never change (a
//! collection is immutable), so the mount derives stable inodes from them.
//! Pure; its size is bounded by the collection's (at most one folder per
//! path component, so fewer than `entries × depth` nodes, and at most
//! [`MAX_NODES`]).

use super::Collection;
use std::collections::HashMap;

/// Most nodes a tree holds (files and folders).
pub const MAX_NODES: usize = 4 * super::MAX_ENTRIES;

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A folder and its children's indices, sorted by name.
    Dir(Vec<usize>),
    /// A file: the index of its entry in the collection.
    File(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub parent: usize,
    pub kind: Kind,
}

/// The tree; node 0 is the root folder.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// The tree of `c`; `None` if it would pass [`MAX_NODES`].
    pub fn build(c: &Collection) -> Option<Self> {
        Self::from_paths(c.entries().iter().map(|e| e.path.as_str()))
    }

    /// The tree of files named by checked `/`-joined paths (no clash, no
    /// empty part): file node `Kind::File(i)` is the `i`-th path. `None`
    /// if it would pass [`MAX_NODES`].
    pub fn from_paths<'a>(paths: impl Iterator<Item = &'a str>) -> Option<Self> {
        let mut nodes = vec![Node {
            name: String::new(),
            parent: 0,
            kind: Kind::Dir(Vec::new()),
        }];
        let mut dirs: HashMap<(usize, &str), usize> = HashMap::new();
        for (i, path) in paths.enumerate() {
            let mut parts = path.split('/').peekable();
            let mut at = 0;
            while let Some(part) = parts.next() {
                if parts.peek().is_none() {
                    at = add(&mut nodes, at, part, Kind::File(i));
                } else if let Some(&d) = dirs.get(&(at, part)) {
                    at = d;
                } else {
                    let d = add(&mut nodes, at, part, Kind::Dir(Vec::new()));
                    dirs.insert((at, part), d);
                    at = d;
                }
                if nodes.len() > MAX_NODES {
                    return None;
                }
            }
        }
        let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
        for n in &mut nodes {
            if let Kind::Dir(children) = &mut n.kind {
                children.sort_by(|a, b| names[*a].cmp(&names[*b]));
            }
        }
        Some(Self { nodes })
    }

    pub fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The child named `name` of folder `dir`.
    pub fn lookup(&self, dir: usize, name: &str) -> Option<usize> {
        let Kind::Dir(children) = &self.nodes.get(dir)?.kind else {
            return None;
        };
        let i = children
            .binary_search_by(|c| self.nodes[*c].name.as_str().cmp(name))
            .ok()?;
        Some(children[i])
    }
}

fn add(nodes: &mut Vec<Node>, parent: usize, name: &str, kind: Kind) -> usize {
    let i = nodes.len();
    nodes.push(Node {
        name: name.to_owned(),
        parent,
        kind,
    });
    if let Kind::Dir(children) = &mut nodes[parent].kind {
        children.push(i);
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::Entry;
    use crate::hash::SdHash;

    fn coll(paths: &[&str]) -> Collection {
        let entries = paths.iter().map(|p| Entry {
            path: p.to_string(),
            sd: SdHash::digest(p.as_bytes()),
            size: 1,
            sha384: None,
        });
        Collection::new(entries.collect()).unwrap()
    }

    #[test]
    fn folders_are_implied_by_paths_and_children_sorted() {
        let c = coll(&["b/z", "a", "b/c/d", "b/a"]);
        let t = Tree::build(&c).unwrap();
        assert_eq!(t.len(), 1 + 2 + 3 + 1, "root, a, b, b/{{a,c,z}}, b/c/d");
        let b = t.lookup(0, "b").unwrap();
        let Kind::Dir(children) = &t.node(b).unwrap().kind else {
            panic!("b is a folder")
        };
        let names: Vec<&str> = children
            .iter()
            .map(|i| t.node(*i).unwrap().name.as_str())
            .collect();
        assert_eq!(names, ["a", "c", "z"]);
        let d = t.lookup(t.lookup(b, "c").unwrap(), "d").unwrap();
        let entry = match t.node(d).unwrap().kind {
            Kind::File(e) => e,
            Kind::Dir(_) => panic!("d is a file"),
        };
        assert_eq!(c.entries()[entry].path, "b/c/d");
        assert_eq!(t.lookup(0, "nope"), None);
        assert_eq!(t.lookup(d, "x"), None, "a file has no children");
    }
}
