#include "rudp/keys.hpp"

#include <cstring>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace peregrine::rudp {

void pkey_free::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void store_free::operator()(X509_STORE* s) const { X509_STORE_free(s); }

namespace {
struct ctx_free {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, ctx_free>;
static constexpr char hkdf_info[] = "peregrine rudp v0";
} // namespace

bool make_keypair(keypair* out)
{
    ctx_ptr c(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
    EVP_PKEY* k = nullptr;
    if (!c || EVP_PKEY_keygen_init(c.get()) != 1 || EVP_PKEY_keygen(c.get(), &k) != 1)
        return false;
    out->priv.reset(k);
    size_t n = x25519_key_len;
    return EVP_PKEY_get_raw_public_key(k, out->pub, &n) == 1 && n == x25519_key_len;
}

bool shared_secret(const keypair& mine, const uint8_t* peer_pub, uint8_t out[32])
{
    pkey_ptr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_pub, x25519_key_len));
    if (!peer)
        return false;
    ctx_ptr c(EVP_PKEY_CTX_new(mine.priv.get(), nullptr));
    size_t n = 32;
    if (!c || EVP_PKEY_derive_init(c.get()) != 1 || EVP_PKEY_derive_set_peer(c.get(), peer.get()) != 1 ||
        EVP_PKEY_derive(c.get(), out, &n) != 1 || n != 32)
        return false;
    uint8_t any = 0;
    for (unsigned i = 0; i < 32; ++i)
        any |= out[i];
    return any != 0;
}

bool derive_keys(const uint8_t shared[32], const uint8_t* client_pub, const uint8_t* server_pub, session_keys* out)
{
    static_assert(sizeof(session_keys) == 2 * key_len + 2 * salt_len + 64, "no padding: one HKDF output");
    uint8_t salt[2 * x25519_key_len];
    std::memcpy(salt, client_pub, x25519_key_len);
    std::memcpy(salt + x25519_key_len, server_pub, x25519_key_len);
    ctx_ptr c(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
    size_t n = sizeof(*out);
    return c && EVP_PKEY_derive_init(c.get()) == 1 && EVP_PKEY_CTX_set_hkdf_md(c.get(), EVP_sha256()) == 1 &&
           EVP_PKEY_CTX_set1_hkdf_salt(c.get(), salt, sizeof(salt)) == 1 &&
           EVP_PKEY_CTX_set1_hkdf_key(c.get(), shared, 32) == 1 &&
           EVP_PKEY_CTX_add1_hkdf_info(c.get(), reinterpret_cast<const unsigned char*>(hkdf_info),
                                       sizeof(hkdf_info) - 1) == 1 &&
           EVP_PKEY_derive(c.get(), reinterpret_cast<unsigned char*>(out), &n) == 1 && n == sizeof(*out);
}

void sha256(const uint8_t* a, size_t la, const uint8_t* b, size_t lb, uint8_t out[32])
{
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), nullptr);
    EVP_DigestUpdate(c, a, la);
    EVP_DigestUpdate(c, b, lb);
    unsigned n = 32;
    EVP_DigestFinal_ex(c, out, &n);
    EVP_MD_CTX_free(c);
}

void finished(const uint8_t key[32], const uint8_t transcript[32], uint8_t out[finished_len])
{
    unsigned n = finished_len;
    HMAC(EVP_sha256(), key, 32, transcript, 32, out, &n);
}

bool load_identity(const std::string& cert_pem, const std::string& key_pem, identity* out, std::string* err)
{
    FILE* f = std::fopen(cert_pem.c_str(), "r");
    if (!f) {
        *err = "--rudp-cert: cannot open " + cert_pem;
        return false;
    }
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!x) {
        *err = "--rudp-cert: " + cert_pem + " holds no PEM certificate";
        return false;
    }
    unsigned char* der = nullptr;
    const int n = i2d_X509(x, &der);
    f = std::fopen(key_pem.c_str(), "r");
    EVP_PKEY* k = f ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : nullptr;
    if (f)
        std::fclose(f);
    const bool match = k && X509_check_private_key(x, k) == 1;
    X509_free(x);
    if (n > 0)
        out->der.assign(reinterpret_cast<char*>(der), size_t(n));
    OPENSSL_free(der);
    if (n <= 0) {
        EVP_PKEY_free(k);
        *err = "--rudp-cert: cannot encode " + cert_pem;
        return false;
    }
    if (!k) {
        *err = "--rudp-key: " + key_pem + (f ? " holds no PEM private key" : ": cannot open");
        return false;
    }
    out->key.reset(k);
    if (!match) {
        *err = "--rudp-key: " + key_pem + " is not the key of " + cert_pem;
        return false;
    }
    return true;
}

namespace {
// Ed25519/Ed448 sign the message itself; the others hash it with SHA-256 first.
const EVP_MD* md_for(EVP_PKEY* k)
{
    const int id = EVP_PKEY_get_id(k);
    return (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? nullptr : EVP_sha256();
}
} // namespace

size_t sign_transcript(const identity& id, const uint8_t transcript[32], uint8_t* out, size_t cap)
{
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    size_t n = cap;
    const bool ok = c && EVP_DigestSignInit(c, nullptr, md_for(id.key.get()), nullptr, id.key.get()) == 1 &&
                    EVP_DigestSign(c, out, &n, transcript, 32) == 1;
    EVP_MD_CTX_free(c);
    return ok ? n : 0;
}

store_ptr load_ca(const std::string& ca_pem, std::string* err)
{
    store_ptr s(X509_STORE_new());
    if (!s || X509_STORE_load_file(s.get(), ca_pem.c_str()) != 1) {
        *err = "--rudp-client-ca: cannot load a PEM CA certificate from " + ca_pem;
        return nullptr;
    }
    return s;
}

bool verify_peer(X509_STORE* store, const uint8_t* der, size_t der_len, const uint8_t transcript[32],
                 const uint8_t* sig, size_t sig_len)
{
    const unsigned char* p = der;
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(der_len));
    if (!x)
        return false;
    bool ok = p == der + der_len;  // nothing after the certificate
    X509_STORE_CTX* sc = X509_STORE_CTX_new();
    ok = ok && sc && X509_STORE_CTX_init(sc, store, x, nullptr) == 1 && X509_verify_cert(sc) == 1;
    X509_STORE_CTX_free(sc);
    EVP_PKEY* k = ok ? X509_get0_pubkey(x) : nullptr;
    if (k) {
        EVP_MD_CTX* c = EVP_MD_CTX_new();
        ok = c && EVP_DigestVerifyInit(c, nullptr, md_for(k), nullptr, k) == 1 &&
             EVP_DigestVerify(c, sig, sig_len, transcript, 32) == 1;
        EVP_MD_CTX_free(c);
    } else {
        ok = false;
    }
    X509_free(x);
    return ok;
}

} // namespace peregrine::rudp
