//! Argument checks of the C libraries scripts use (`bit`, `struct`,
//! `cmsgpack`, `math.random`), raising the errors lauxlib raises:
//! "bad argument #n to 'name' (...)".

use mlua::{IntoLuaMulti, Lua, LuaString, MultiValue, Table, Value};

use super::engine::{callback, raise_message};

/// Lua's LUAI_MAXCSTACK: the stack slots a C function may use; past it
/// the libraries' luaL_checkstack calls fail.
pub const MAX_C_STACK: usize = 8000;

/// The arguments of one call of a library function.
pub struct Args<'a> {
    pub lua: &'a Lua,
    values: MultiValue,
}

impl<'a> Args<'a> {
    pub fn new(lua: &'a Lua, values: MultiValue) -> Args<'a> {
        Args { lua, values }
    }

    /// These arguments and a nil after them, as the stack is once the
    /// library pushed one: a missing argument there reads as nil.
    pub fn then_nil(&self) -> Args<'a> {
        let mut values = self.values.clone();
        values.push_back(Value::Nil);
        Args::new(self.lua, values)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Argument `i` (from 1); None past the last one.
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.values.get(i.wrapping_sub(1))
    }

    /// luaL_argerror: the function named as the caller called it.
    pub fn error<T>(&self, i: usize, msg: &str) -> mlua::Result<T> {
        let (name, method) = self
            .lua
            .inspect_stack(0, |d| {
                let names = d.names();
                let name = names.name.map(|n| n.into_owned());
                (name, names.name_what == Some("method"))
            })
            .unwrap_or_default();
        let name = name.unwrap_or_else(|| "?".into());
        let text = match (method, i) {
            (true, 1) => format!("calling '{name}' on bad self ({msg})"),
            (true, _) => format!("bad argument #{} to '{name}' ({msg})", i - 1),
            _ => format!("bad argument #{i} to '{name}' ({msg})"),
        };
        raise_message(self.lua, &text)
    }

    /// luaL_typerror.
    pub fn type_error<T>(&self, i: usize, expected: &str) -> mlua::Result<T> {
        let got = match self.get(i) {
            None => "no value",
            Some(Value::Integer(_) | Value::Number(_)) => "number",
            Some(Value::LightUserData(_) | Value::UserData(_) | Value::Error(_)) => "userdata",
            Some(v) => v.type_name(),
        };
        self.error(i, &format!("{expected} expected, got {got}"))
    }

    /// lua_tonumber: None unless a number or a string that reads as one.
    pub fn to_number(&self, i: usize) -> mlua::Result<Option<f64>> {
        match self.get(i) {
            None => Ok(None),
            Some(v) => self.lua.coerce_number(v.clone()),
        }
    }

    /// luaL_checknumber.
    pub fn number(&self, i: usize) -> mlua::Result<f64> {
        match self.to_number(i)? {
            Some(n) => Ok(n),
            None => self.type_error(i, "number"),
        }
    }

    /// luaL_checkinteger: the number truncated, as lua_Integer.
    pub fn integer(&self, i: usize) -> mlua::Result<i64> {
        Ok(self.number(i)? as i64)
    }

    /// luaL_optinteger: `default` when absent or nil.
    pub fn opt_integer(&self, i: usize, default: i64) -> mlua::Result<i64> {
        match self.get(i) {
            None | Some(Value::Nil) => Ok(default),
            Some(_) => self.integer(i),
        }
    }

    /// luaL_checklstring: a string, or a number as a string.
    pub fn string(&self, i: usize) -> mlua::Result<LuaString> {
        let coerced = match self.get(i) {
            Some(v) => self.lua.coerce_string(v.clone())?,
            None => None,
        };
        match coerced {
            Some(s) => Ok(s),
            None => self.type_error(i, "string"),
        }
    }

    /// luaL_error: `msg` at the calling script line.
    pub fn fail<T>(&self, msg: &str) -> mlua::Result<T> {
        raise_message(self.lua, msg)
    }
}

/// Sets `table[name]` to the library function `f`.
pub fn register<R: IntoLuaMulti + 'static>(
    lua: &Lua,
    table: &Table,
    name: &'static str,
    f: fn(&Args) -> mlua::Result<R>,
) -> mlua::Result<()> {
    let function = callback(lua, move |lua, values: MultiValue| {
        f(&Args::new(lua, values))
    })?;
    table.raw_set(name, function)
}
