#pragma once

// The handshake's cryptography, through OpenSSL (DPDK-free, control lcore only):
//  - X25519 key agreement (RFC 7748): a fresh server key pair per handshake;
//  - the key schedule: HKDF-SHA-256 (RFC 5869) with salt = client public key || server public
//    key, IKM = the shared secret, info "peregrine rudp v0", 104 bytes cut into the two
//    directions' AES-128-GCM keys and nonce salts and the two "finished" MAC keys;
//  - "finished" = HMAC-SHA-256(finished key, SHA-256(client AUTH datagram || server AUTH
//    datagram)), one per direction, so a handshake altered on the way fails on both sides;
//  - certificates: X.509 in DER on the wire, verified against a CA; possession of the
//    certificate's key is proven by a signature over the same transcript hash.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "rudp/codec.hpp"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef struct x509_store_st X509_STORE;

namespace peregrine::rudp {

struct pkey_free {
    void operator()(EVP_PKEY* k) const;
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

struct keypair {
    pkey_ptr priv;
    uint8_t pub[x25519_key_len];
};
// False if OpenSSL could not make a key.
bool make_keypair(keypair* out);

// The shared secret with peer_pub. False if OpenSSL refuses or the result is all zero (a
// small-order peer key: RFC 7748 section 6.1's check).
bool shared_secret(const keypair& mine, const uint8_t* peer_pub, uint8_t out[32]);

static constexpr unsigned key_len = 16;   // AES-128-GCM
static constexpr unsigned salt_len = 4;

struct session_keys {
    uint8_t c2s_key[key_len], s2c_key[key_len];
    uint8_t c2s_salt[salt_len], s2c_salt[salt_len];
    uint8_t client_finished_key[32], server_finished_key[32];
};
bool derive_keys(const uint8_t shared[32], const uint8_t* client_pub, const uint8_t* server_pub, session_keys* out);

void sha256(const uint8_t* a, size_t la, const uint8_t* b, size_t lb, uint8_t out[32]);
void finished(const uint8_t key[32], const uint8_t transcript[32], uint8_t out[finished_len]);

// ---- certificates ----

// The server's certificate (DER) and its key, from PEM files. err says why not.
struct identity {
    std::string der;
    pkey_ptr key;
};
bool load_identity(const std::string& cert_pem, const std::string& key_pem, identity* out, std::string* err);

// Signs the transcript hash with the identity's key (ECDSA or Ed25519 or RSA, by its type).
// Returns the signature's length, 0 on failure.
size_t sign_transcript(const identity& id, const uint8_t transcript[32], uint8_t* out, size_t cap);

struct store_free {
    void operator()(X509_STORE* s) const;
};
using store_ptr = std::unique_ptr<X509_STORE, store_free>;
store_ptr load_ca(const std::string& ca_pem, std::string* err);

// Whether der is a certificate that chains to store (at the current time) and sig is its key's
// signature over transcript.
bool verify_peer(X509_STORE* store, const uint8_t* der, size_t der_len, const uint8_t transcript[32],
                 const uint8_t* sig, size_t sig_len);

} // namespace peregrine::rudp
