from django.core.management.base import BaseCommand

from marketplace.demo import DEMO_LOGINS, demo_seed


class Command(BaseCommand):
    help = (
        "Create demo people (admin, sellers, buyers) and each app's demo data. "
        "Safe to run again: nothing is duplicated. Prints the demo logins at the end."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already has users (used by `make run`).",
        )

    def handle(self, *args, **options):
        from accounts.models import User

        if options["if_empty"] and User.objects.exists():
            self.stdout.write("The database already has users; demo data left as it is.")
        else:
            demo_seed(stdout=self.stdout)
            self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        self.stdout.write("")
        self.stdout.write("Demo logins:")
        width = max(len(login.email) for login in DEMO_LOGINS)
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.role:<7} {login.email:<{width}}  password: {login.password}")
