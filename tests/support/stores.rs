//! The store under test: one behaviour suite runs against the in-memory default and a real
//! Redis (a `redis-server` started per test on a free port).

use tower_jwt_login::{JwtLoginBuilder, MemoryStore, Store};

#[cfg(feature = "redis")]
use super::RedisServer;
use super::{Server, Stack, spawn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    #[cfg(feature = "redis")]
    Redis,
}

/// The store under test. A Redis store gets its own `redis-server`, alive as long as this.
pub struct Fixture {
    #[cfg(feature = "redis")]
    pub redis: Option<RedisServer>,
    memory: MemoryStore,
}

impl Fixture {
    pub fn new(kind: Kind) -> Self {
        #[cfg(not(feature = "redis"))]
        let Kind::Memory = kind;
        Self {
            #[cfg(feature = "redis")]
            redis: (kind == Kind::Redis).then(RedisServer::start),
            memory: MemoryStore::new(),
        }
    }

    /// A new store handle: for Redis, a new client of the same server (another replica).
    pub fn store(&self) -> Store {
        self.store_with(MemoryStore::new())
    }

    /// As [`store`](Self::store), with `memory` as the memory store.
    pub fn store_with(&self, memory: MemoryStore) -> Store {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return tower_jwt_login::RedisStore::connect(&redis.url())
                .unwrap()
                .into();
        }
        // The memory store is per process: a fresh one each time is one process each time.
        let _ = &self.memory;
        memory.into()
    }

    pub async fn server(&self, builder: JwtLoginBuilder) -> Server {
        spawn(Stack::Hyper, builder.store(self.store()).build().unwrap()).await
    }
}

/// Instantiates each behaviour, an `async fn(Kind)`, as a test per store.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Kind::Memory).await;
            })*
        }
        #[cfg(feature = "redis")]
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Kind::Redis).await;
            })*
        }
    };
}
