package io.ums.agent;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * No two packages of the agent depend on each other, directly or through others: each package (the root one
 * too) is a slice, and error types live in a leaf package every other may use.
 */
class PackageCyclesTest {
  @Test
  void packagesFormNoCycle() {
    JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("io.ums.agent");
    slices().matching("io.ums.(**)").should().beFreeOfCycles().check(classes);
  }
}
