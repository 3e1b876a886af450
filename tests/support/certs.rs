//! Test PKI: a CA and server certificates for localhost / 127.0.0.1, written
//! as PEM files for servers (key + chain) and clients (CA).

use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair,
};

pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate (PEM), for `tls_ca_file`.
    pub ca_file: PathBuf,
}

/// A server certificate and key on disk.
pub struct ServerCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// notAfter as Unix seconds.
    pub not_after: i64,
}

impl TestCa {
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("ftp_exporter test CA {name}"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_file, issuer.pem()).unwrap();
        TestCa { issuer, ca_file }
    }

    /// A certificate for localhost and 127.0.0.1; `expired` makes one whose validity ended in 2021.
    pub fn server_cert(&self, dir: &Path, name: &str, expired: bool) -> ServerCert {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        } else {
            params.not_before = date_time_ymd(2024, 1, 1);
            params.not_after = date_time_ymd(2099, 1, 1);
        }
        self.issue(params, dir, name, true)
    }

    /// A client certificate (TLS client auth) named `name`: `<name>-cert.pem`, `<name>-key.pem`.
    pub fn client_cert(&self, dir: &Path, name: &str) -> ServerCert {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
        self.issue(params, dir, name, false)
    }

    /// Signs `params` with a new key: `<name>-cert.pem` (with the CA after
    /// it when `chain`) and `<name>-key.pem`.
    fn issue(&self, params: CertificateParams, dir: &Path, name: &str, chain: bool) -> ServerCert {
        let not_after = params.not_after.unix_timestamp();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_file = dir.join(format!("{name}-cert.pem"));
        let key_file = dir.join(format!("{name}-key.pem"));
        let ca = if chain { self.issuer.pem() } else { String::new() };
        std::fs::write(&cert_file, format!("{}{ca}", cert.pem())).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        ServerCert { cert_file, key_file, not_after }
    }
}
