//! The `expression` of a derived metric: arithmetic over other metrics' names.
//!
//! The grammar is small on purpose: `+ - * /`, unary minus (and plus), parentheses, numeric
//! literals and metric names. It is evaluated on the engine's side, row by row, over the values
//! the inputs' statements computed, so it reads the same on every backend.

use std::fmt;

/// A parsed derived-metric expression.
///
/// ```
/// use aitaem::spec::Formula;
/// let f = Formula::parse("(revenue - cost) / orders").unwrap();
/// assert_eq!(f.inputs(), ["revenue", "cost", "orders"]);
/// let value = f.eval(&mut |name| match name {
///     "revenue" => Some(10.0),
///     "cost" => Some(4.0),
///     _ => Some(3.0),
/// });
/// assert_eq!(value, Some(2.0));
/// // Division by zero, and any NULL input, give NULL.
/// assert_eq!(f.eval(&mut |name| if name == "orders" { Some(0.0) } else { Some(1.0) }), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    text: String,
    tree: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Number(f64),
    Metric(String),
    Negate(Box<Node>),
    Binary(Box<Node>, Op, Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// Why an expression does not parse, and where (a 1-based character column in its text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FormulaError {
    /// What is wrong.
    pub message: String,
    /// Where, 1-based; 0 at the end of the text.
    pub column: u32,
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormulaError {}

impl Formula {
    /// Parses an expression.
    pub fn parse(text: &str) -> Result<Formula, FormulaError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
        };
        let tree = parser.sum()?;
        if let Some((token, column)) = parser.peek() {
            return Err(FormulaError {
                message: format!(
                    "unexpected {} after a complete expression",
                    token.describe()
                ),
                column,
            });
        }
        Ok(Formula {
            text: text.to_string(),
            tree,
        })
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The metric names it reads, each once, in order of appearance.
    pub fn inputs(&self) -> Vec<&str> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
            match node {
                Node::Number(_) => {}
                Node::Metric(name) => {
                    if !out.contains(&name.as_str()) {
                        out.push(name);
                    }
                }
                Node::Negate(inner) => walk(inner, out),
                Node::Binary(left, _, right) => {
                    walk(left, out);
                    walk(right, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.tree, &mut out);
        out
    }

    /// The value for one row, given each input's value there (`None`: NULL). NULL in, NULL
    /// out; a division by zero is NULL.
    pub fn eval(&self, value: &mut impl FnMut(&str) -> Option<f64>) -> Option<f64> {
        fn eval(node: &Node, value: &mut impl FnMut(&str) -> Option<f64>) -> Option<f64> {
            Some(match node {
                Node::Number(n) => *n,
                Node::Metric(name) => value(name)?,
                Node::Negate(inner) => -eval(inner, value)?,
                Node::Binary(left, op, right) => {
                    let (a, b) = (eval(left, value)?, eval(right, value)?);
                    match op {
                        Op::Add => a + b,
                        Op::Subtract => a - b,
                        Op::Multiply => a * b,
                        Op::Divide if b == 0.0 => return None,
                        Op::Divide => a / b,
                    }
                }
            })
        }
        eval(&self.tree, value).filter(|v| v.is_finite())
    }
}

impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Op(char),
    Open,
    Close,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Number(n) => format!("number `{n}`"),
            Token::Name(name) => format!("name `{name}`"),
            Token::Op(c) => format!("`{c}`"),
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
        }
    }
}

/// Tokens with their 1-based columns.
fn tokenize(text: &str) -> Result<Vec<(Token, u32)>, FormulaError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i as u32 + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let token = match c {
            '+' | '-' | '*' | '/' => Token::Op(c),
            '(' => Token::Open,
            ')' => Token::Close,
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && matches!(chars[i], 'e' | 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && matches!(chars[j], '+' | '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let literal: String = chars[start..i].iter().collect();
                let number = literal.parse::<f64>().map_err(|_| FormulaError {
                    message: format!("`{literal}` is not a number"),
                    column,
                })?;
                tokens.push((Token::Number(number), column));
                continue;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push((Token::Name(chars[start..i].iter().collect()), column));
                continue;
            }
            other => {
                return Err(FormulaError {
                    message: format!(
                        "`{other}` is not allowed: an expression is arithmetic (`+ - * /`, parentheses, numbers) over metric names"
                    ),
                    column,
                });
            }
        };
        tokens.push((token, column));
        i += 1;
    }
    Ok(tokens)
}

/// Recursive descent: `sum := product (('+' | '-') product)*`,
/// `product := unary (('*' | '/') unary)*`, `unary := ('-' | '+') unary | atom`,
/// `atom := number | name | '(' sum ')'`.
struct Parser<'t> {
    tokens: &'t [(Token, u32)],
    at: usize,
}

/// How deeply parentheses and signs may nest.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<(&Token, u32)> {
        self.tokens.get(self.at).map(|(t, c)| (t, *c))
    }

    fn next(&mut self) -> Option<(Token, u32)> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn sum(&mut self) -> Result<Node, FormulaError> {
        self.sum_at(0)
    }

    fn sum_at(&mut self, depth: usize) -> Result<Node, FormulaError> {
        let mut node = self.product(depth)?;
        while let Some((Token::Op(c @ ('+' | '-')), _)) = self.peek() {
            let op = if *c == '+' { Op::Add } else { Op::Subtract };
            self.at += 1;
            node = Node::Binary(Box::new(node), op, Box::new(self.product(depth)?));
        }
        Ok(node)
    }

    fn product(&mut self, depth: usize) -> Result<Node, FormulaError> {
        let mut node = self.unary(depth)?;
        while let Some((Token::Op(c @ ('*' | '/')), _)) = self.peek() {
            let op = if *c == '*' { Op::Multiply } else { Op::Divide };
            self.at += 1;
            node = Node::Binary(Box::new(node), op, Box::new(self.unary(depth)?));
        }
        Ok(node)
    }

    fn unary(&mut self, depth: usize) -> Result<Node, FormulaError> {
        if depth > MAX_DEPTH {
            let column = self.peek().map_or(0, |(_, c)| c);
            return Err(FormulaError {
                message: format!("the expression nests more than {MAX_DEPTH} levels deep"),
                column,
            });
        }
        match self.peek() {
            Some((Token::Op('-'), _)) => {
                self.at += 1;
                Ok(Node::Negate(Box::new(self.unary(depth + 1)?)))
            }
            Some((Token::Op('+'), _)) => {
                self.at += 1;
                self.unary(depth + 1)
            }
            _ => self.atom(depth),
        }
    }

    fn atom(&mut self, depth: usize) -> Result<Node, FormulaError> {
        match self.next() {
            Some((Token::Number(n), _)) => Ok(Node::Number(n)),
            Some((Token::Name(name), column)) => {
                if let Some((Token::Open, _)) = self.peek() {
                    return Err(FormulaError {
                        message: format!(
                            "`{name}(...)`: an expression calls no functions; it combines metrics with `+ - * /`"
                        ),
                        column,
                    });
                }
                Ok(Node::Metric(name))
            }
            Some((Token::Open, column)) => {
                let inner = self.sum_at(depth + 1)?;
                match self.next() {
                    Some((Token::Close, _)) => Ok(inner),
                    Some((token, at)) => Err(FormulaError {
                        message: format!("expected `)`, found {}", token.describe()),
                        column: at,
                    }),
                    None => Err(FormulaError {
                        message: "this `(` is never closed".into(),
                        column,
                    }),
                }
            }
            Some((token, column)) => Err(FormulaError {
                message: format!(
                    "expected a metric name or a number, found {}",
                    token.describe()
                ),
                column,
            }),
            None => Err(FormulaError {
                message: "the expression ends where a metric name or a number is expected".into(),
                column: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(f: &str, inputs: &[(&str, Option<f64>)]) -> Option<f64> {
        Formula::parse(f).unwrap().eval(&mut |name| {
            inputs
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| *v)
        })
    }

    #[test]
    fn precedence_associativity_and_signs() {
        let none: &[(&str, Option<f64>)] = &[];
        assert_eq!(value("1 + 2 * 3", none), Some(7.0));
        assert_eq!(value("(1 + 2) * 3", none), Some(9.0));
        assert_eq!(value("8 / 4 / 2", none), Some(1.0));
        assert_eq!(value("8 - 4 - 2", none), Some(2.0));
        assert_eq!(value("-2 * -3", none), Some(6.0));
        assert_eq!(value("--2 + +1", none), Some(3.0));
        assert_eq!(value("1.5e2 + .5", none), Some(150.5));
        assert_eq!(
            value("a / b", &[("a", Some(1.0)), ("b", Some(4.0))]),
            Some(0.25)
        );
    }

    #[test]
    fn null_and_division_by_zero_give_null() {
        assert_eq!(value("a + 1", &[("a", None)]), None);
        assert_eq!(value("a / b", &[("a", Some(1.0)), ("b", Some(0.0))]), None);
        assert_eq!(
            value("0 * (a / b)", &[("a", Some(1.0)), ("b", Some(0.0))]),
            None
        );
    }

    #[test]
    fn inputs_in_order_once_each() {
        let f = Formula::parse("rev / users + rev * 2 - cost").unwrap();
        assert_eq!(f.inputs(), ["rev", "users", "cost"]);
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = |text: &str| Formula::parse(text).unwrap_err();
        assert_eq!(err("a + ").column, 0);
        assert_eq!(err("a + * b").column, 5);
        assert!(err("SUM(a)").message.contains("calls no functions"));
        assert_eq!(err("a ; b").column, 3);
        assert_eq!(err("(a + b").column, 1);
        assert!(err("(a + b").message.contains("never closed"));
        assert_eq!(err("a b").column, 3);
        assert!(err("a b").message.contains("after a complete expression"));
        assert_eq!(err("1.2.3").column, 1);
        assert!(err("'a'").message.contains("not allowed"));
        assert!(err("").message.contains("ends where"));
        assert!(err(&"(".repeat(100)).message.contains("nests"));
    }
}
