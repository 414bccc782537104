"""What the browser tests do alike: sign in through the real sign-in page."""


def sign_in(page, base_url: str, email: str, password: str) -> None:
    """Fill in and send the sign-in form; the caller waits for what should come next."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
