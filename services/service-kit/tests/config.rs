//! Layered configuration: defaults, file, environment, and validation messages.

// `figment::Jail` closures return figment's own (large) error type; not ours to shrink.
#![allow(clippy::result_large_err)]

use figment::Jail;
use protocol::Service;
use service_kit::config::{Config, ConfigError, LogFormat, StoreBackend};

#[test]
fn defaults_give_each_service_its_port_on_loopback() {
    Jail::expect_with(|jail| {
        // The machine's own SHOP_* variables (CI sets SHOP_MODELS_DIR) must not leak in.
        jail.clear_env();
        let config = Config::load().expect("defaults load");
        for service in Service::ALL {
            assert_eq!(
                config.listen_addr(service),
                format!("127.0.0.1:{}", service.default_port())
            );
        }
        assert_eq!(config.url_of(Service::Catalog), "http://127.0.0.1:8084");
        assert_eq!(config.models_dir, std::path::PathBuf::from("models"));
        assert_eq!(config.data_dir, std::path::PathBuf::from(".data"));
        assert_eq!(config.telemetry.format, LogFormat::Json);
        assert_eq!(config.telemetry.otlp_endpoint, None);
        Ok(())
    });
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    Jail::expect_with(|jail| {
        // The machine's own SHOP_* variables (CI sets SHOP_MODELS_DIR) must not leak in.
        jail.clear_env();
        jail.create_file(
            "shop.toml",
            r#"
            models_dir = "/srv/models"
            [voice]
            port = 9001
            [catalog]
            host = "0.0.0.0"
            port = 9004
            [telemetry]
            format = "pretty"
            "#,
        )?;
        jail.set_env("SHOP_CONFIG", "shop.toml");
        let from_file = Config::load().expect("file loads");
        assert_eq!(from_file.voice.port, 9001);
        assert_eq!(
            from_file.models_dir,
            std::path::PathBuf::from("/srv/models")
        );
        assert_eq!(from_file.telemetry.format, LogFormat::Pretty);
        // Untouched sections keep their defaults.
        assert_eq!(from_file.dialogue.port, Service::Dialogue.default_port());
        // A wildcard listen address is reached through loopback.
        assert_eq!(from_file.url_of(Service::Catalog), "http://127.0.0.1:9004");

        jail.set_env("SHOP_VOICE__PORT", "9101");
        jail.set_env("SHOP_MODELS_DIR", "/mnt/models");
        jail.set_env("SHOP_CATALOG__URL", "http://catalog.shop.svc:8084/");
        let from_env = Config::load().expect("env loads");
        assert_eq!(from_env.voice.port, 9101);
        assert_eq!(from_env.models_dir, std::path::PathBuf::from("/mnt/models"));
        assert_eq!(
            from_env.url_of(Service::Catalog),
            "http://catalog.shop.svc:8084"
        );
        Ok(())
    });
}

#[test]
fn explicit_missing_file_is_an_error() {
    Jail::expect_with(|jail| {
        // The machine's own SHOP_* variables (CI sets SHOP_MODELS_DIR) must not leak in.
        jail.clear_env();
        let err = Config::load_file(std::path::Path::new("nope.toml")).unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)), "{err}");
        assert!(err.to_string().contains("nope.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn invalid_port_names_the_field() {
    Jail::expect_with(|jail| {
        // The machine's own SHOP_* variables (CI sets SHOP_MODELS_DIR) must not leak in.
        jail.clear_env();
        jail.set_env("SHOP_VOICE__PORT", "70000");
        let err = Config::load().unwrap_err();
        assert_eq!(
            err.to_string(),
            "voice.port: must be between 1 and 65535 (from SHOP_VOICE__PORT)"
        );
        jail.set_env("SHOP_VOICE__PORT", "0");
        let err = Config::load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("voice.port: must be between 1 and 65535"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn unknown_key_is_rejected_by_name() {
    Jail::expect_with(|jail| {
        // The machine's own SHOP_* variables (CI sets SHOP_MODELS_DIR) must not leak in.
        jail.clear_env();
        jail.create_file("shop.toml", "[voice]\nprot = 9001\n")?;
        let err = Config::load_file(std::path::Path::new("shop.toml")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("voice.prot: unknown key") && text.contains("shop.toml"),
            "{text}"
        );

        // A typo in an environment variable is caught the same way.
        jail.set_env("SHOP_VOCIE__PORT", "9001");
        let err = Config::load().unwrap_err();
        assert_eq!(err.to_string(), "vocie: unknown key (from SHOP_VOCIE)");
        Ok(())
    });
}

#[test]
fn validate_rejects_clashing_ports_and_bad_urls() {
    let mut config = Config::default();
    config.tryon.port = config.voice.port;
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.starts_with("tryon.port:") && err.contains("voice"),
        "{err}"
    );

    let mut config = Config::default();
    config.telemetry.otlp_endpoint = Some("collector:4317".into());
    let err = config.validate().unwrap_err().to_string();
    assert!(err.starts_with("telemetry.otlp_endpoint:"), "{err}");
}

#[test]
fn voice_limits_are_validated_by_name() {
    Jail::expect_with(|jail| {
        // The machine's own SHOP_* variables (CI sets SHOP_MODELS_DIR) must not leak in.
        jail.clear_env();
        let config = Config::load().unwrap();
        assert_eq!(config.voice.end_of_turn_silence_ms, 300);
        assert_eq!(config.voice.max_audio_seconds, 30.0);

        jail.set_env("SHOP_VOICE__THREADS", "0");
        let err = Config::load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("voice.threads: must be at least 1"),
            "{err}"
        );

        jail.set_env("SHOP_VOICE__THREADS", "2");
        jail.set_env("SHOP_VOICE__END_OF_TURN_SILENCE_MS", "10");
        let err = Config::load().unwrap_err();
        assert!(
            err.to_string().starts_with("voice.end_of_turn_silence_ms"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn catalog_store_and_keys_are_validated_by_name() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let config = Config::load().unwrap();
        assert_eq!(config.catalog.store, StoreBackend::Embedded);
        assert_eq!(config.catalog.face_embedding_dim, 128);
        // Other services load fine without the catalog's keys; the catalog itself
        // refuses to start, naming the missing setting.
        let err = config.catalog.secrets().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("catalog.admin_key: must be set"),
            "{err}"
        );

        jail.set_env("SHOP_CATALOG__ADMIN_KEY", "short");
        let err = Config::load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("catalog.admin_key: must be at least 16"),
            "{err}"
        );
        jail.set_env("SHOP_CATALOG__ADMIN_KEY", "a-long-enough-admin-key");
        jail.set_env("SHOP_CATALOG__SERVICE_TOKEN", "a-long-enough-service-token");
        let config = Config::load().unwrap();
        assert_eq!(
            config.catalog.secrets().unwrap(),
            ("a-long-enough-admin-key", "a-long-enough-service-token")
        );

        jail.set_env("SHOP_CATALOG__STORE", "server");
        let err = Config::load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("catalog.qdrant_url: must be set"),
            "{err}"
        );
        jail.set_env("SHOP_CATALOG__QDRANT_URL", "http://qdrant.shop.svc:6334");
        let config = Config::load().unwrap();
        assert_eq!(config.catalog.store, StoreBackend::Server);

        jail.set_env("SHOP_CATALOG__FACE_MATCH_MAX_DISTANCE", "0");
        let err = Config::load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("catalog.face_match_max_distance"),
            "{err}"
        );
        Ok(())
    });
}
