//! Proto3 JSON mapping for enums: emitted by name, accepted by name or by number, and `null` means
//! the zero value. A macro keeps the three enums of the envd protocol consistent.

/// Declares a proto enum whose first variant is the `_UNSPECIFIED` default.
macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $first:ident = $first_num:literal => $first_str:literal,
            $($variant:ident = $num:literal => $str:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            #[default]
            $first,
            $($variant,)*
        }

        impl $name {
            /// The proto enum value name, as emitted in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::$first => $first_str,
                    $($name::$variant => $str,)*
                }
            }

            /// The proto enum number.
            pub fn as_i32(self) -> i32 {
                match self {
                    $name::$first => $first_num,
                    $($name::$variant => $num,)*
                }
            }

            /// Looks a variant up by its proto number.
            pub fn from_i32(value: i32) -> Option<Self> {
                match value {
                    $first_num => Some($name::$first),
                    $($num => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// Looks a variant up by its proto value name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $first_str => Some($name::$first),
                    $($str => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name or number"))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| {
                            E::custom(format!(concat!("unknown ", stringify!($name), " {:?}"), v))
                        })
                    }
                    fn visit_i64<E: ::serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        i32::try_from(v)
                            .ok()
                            .and_then($name::from_i32)
                            .ok_or_else(|| {
                                E::custom(format!(concat!("unknown ", stringify!($name), " {}"), v))
                            })
                    }
                    fn visit_u64<E: ::serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
                    }
                    fn visit_unit<E: ::serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_none<E: ::serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
